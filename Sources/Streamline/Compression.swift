import Checkpoint
import Foundation
import Models
import Tensors

/// What `streamline prune` is asked to do.
public struct CompressionRequest {
  /// How many layers go (nil with `layers`).
  public var removal: RemovalRequest?
  /// Exactly this block (0-based source layers), skipping scoring.
  public var layers: [Int]?
  public var metric = ImportanceMetric.cosine
  public var replacement = ReplacementKind.none
  public var training = TrainingOptions()
  /// Calibration sequences scored; the rest of the calibration set trains the replacement.
  public var scoringSamples = 64
  /// Bytes of hidden states kept at once while scoring.
  public var memoryBudget = 8 << 30
  /// Bytes of training states kept in memory before spilling to `spillDirectory`.
  public var trainingMemory = 8 << 30
  public var spillDirectory = FileManager.default.temporaryDirectory

  public init() {}
}

/// The block chosen, what replaces it, and the record of how.
public struct CompressionPlan {
  public let analysis: Analysis?
  /// The scored block: states `start` → `end`.
  public let start: Int
  public let end: Int
  /// Source layers dropped from the checkpoint.
  public let removed: [Int]
  public let overrides: [String: Surgery.Override]
  public let training: TrainingReport?
  /// Validation MSE of the linear map, and of plain removal, for `linear`.
  public let linearFit: [String: Double]?
}

public enum Compression {
  /// Scores (unless the block is given), captures training states in the same pass, trains or
  /// fits the replacement, and returns what `Surgery.write` needs.
  public static func plan(
    model: DecoderModel, sequences: [[Int]], request: CompressionRequest,
    progress: (String) -> Progress
  ) throws -> CompressionPlan {
    guard let folder = model.folder else { preconditionFailure("compression reads checkpoints") }
    let config = model.config
    let replacement = request.replacement
    let scoring = request.layers == nil ? min(request.scoringSamples, sequences.count) : 0
    let training = Array(sequences[scoring...])
    if replacement.isTrained || replacement == .linear {
      guard training.count >= 2 else {
        throw StreamlineError.badRequest(
          "--replace \(replacement.rawValue) needs training sequences beyond the scored ones: give --train-samples of at least 2"
        )
      }
    }

    // The block, when given: states before and after it.
    var known: (start: Int, end: Int)?
    if let layers = request.layers {
      guard layers == Array(layers.first!...layers.last!) || replacement == .none else {
        throw StreamlineError.badRequest(
          "--replace \(replacement.rawValue) needs a contiguous block of --layers")
      }
      if replacement == .linear && layers.first == 0 {
        throw StreamlineError.badRequest(
          "--replace linear folds the map into the layer before the block; the block cannot start at layer 0"
        )
      }
      known = (layers.first!, layers.last! + 1)
    }

    // States to keep for training: all of them until the block is known.
    let needed: [Int]
    if let known {
      switch (replacement, request.training.loss) {
      case (.none, _): needed = []
      case (.linear, _): needed = [known.start - 1, known.end]
      case (_, .mse): needed = [known.start, known.end]
      case (_, let loss):
        // Beyond the block input: the block output when the linear map is fitted for the
        // initialisation, and (distillation's teacher) the original's final state numLayers.
        needed = Array(
          Set(
            [known.start]
              + (Self.fitsLinearMap(request.training.initialization) ? [known.end] : [])
              + (loss == .kd ? [config.numLayers] : []))
        ).sorted()
      }
    } else {
      needed = replacement == .none ? [] : Array(0...config.numLayers)
    }
    let lengths = training.map(\.count)
    let rows = lengths.reduce(0, +)
    let store =
      needed.isEmpty
      ? nil
      : try StateStore(
        states: needed, rows: rows, width: config.hiddenSize,
        memoryLimit: request.trainingMemory, directory: request.spillDirectory)
    let offsets = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
    let capture: (Int, Tensor, Batch, Range<Int>) throws -> Void = { state, x, batch, group in
      guard let store, store.contains(state) else { return }
      for s in group where s >= scoring {
        let segment = batch.segments[s - group.lowerBound]
        store.pointer(state: state).advanced(by: offsets[s - scoring] * config.hiddenSize)
          .update(from: x.row(segment.lowerBound), count: segment.count * config.hiddenSize)
      }
    }

    var analysis: Analysis?
    let start: Int
    let end: Int
    if let known {
      (start, end) = known
      if let store {
        _ = try Similarity.measure(
          model: model, sequences: training, scoring: 0, memoryBudget: request.memoryBudget,
          upTo: store.states.max()!,
          capture: { state, x, batch, group in
            try capture(
              state, x, batch, (group.lowerBound + scoring)..<(group.upperBound + scoring))
          }, progress: progress("capturing training states"))
      }
    } else {
      let count = try Importance.layerCount(
        request.removal!, config: config, replacement: replacement)
      let similarity = try Similarity.measure(
        model: model, sequences: sequences, scoring: scoring, memoryBudget: request.memoryBudget,
        capture: capture, progress: progress("scoring layers"))
      let chosen = try Importance.analyze(
        similarity, config: config, metric: request.metric, removing: count,
        replacement: replacement)
      analysis = chosen
      (start, end) = (chosen.chosen.start, chosen.chosen.end)
      if replacement == .none {
        return CompressionPlan(
          analysis: chosen, start: start, end: end, removed: chosen.chosen.layers, overrides: [:],
          training: nil, linearFit: nil)
      }
    }

    switch replacement {
    case .none:
      return CompressionPlan(
        analysis: analysis, start: start, end: end, removed: Array(start..<end), overrides: [:],
        training: nil, linearFit: nil)
    case .linear:
      return try linear(
        folder: folder, config: config, store: store!, lengths: lengths, start: start, end: end,
        options: request.training, analysis: analysis)
    case .layer, .ffn:
      let load = { (index: Int) in try config.loadLayer(index, from: folder, precision: .f32) }
      var top: FrozenTop?
      if request.training.loss.throughTop {
        top = FrozenTop(
          layers: try (end..<config.numLayers).map(load),
          head: try config.loadHead(from: folder, precision: .f32),
          // The teacher's logits are only ever a forward: bf16 products halve their cost.
          teacherHead: request.training.loss == .kd
            ? try config.loadHead(from: folder, precision: .bf16) : nil)
      }
      let fitsLinear = Self.fitsLinearMap(request.training.initialization)
      let data = TrainingData(
        lengths: lengths, inputs: store!.pointer(state: start),
        targets: request.training.loss == .mse || fitsLinear ? store!.pointer(state: end) : nil,
        tokens: training, width: config.hiddenSize,
        teacher: request.training.loss == .kd ? store!.pointer(state: config.numLayers) : nil)
      let (trainSet, validationSet) = try ReplacementTrainer.split(
        lengths.count, fraction: request.training.validationFraction,
        seed: request.training.seed)

      /// The replacement layer initialised as `kind`, with its trainable subset.
      var mergeWeights: [Double]?
      func candidate(_ kind: ReplacementInit) throws -> (any DecoderLayer, [Int]?) {
        let layer = try load(start)
        switch kind {
        case .first, .auto: break
        case .merge:
          let block = [layer] + (try ((start + 1)..<end).map(load))
          let weights = ReplacementInitialization.mergeWeights(
            layers: block, data: data, sequences: validationSet)
          mergeWeights = weights
          ReplacementInitialization.merge(block, weights: weights)
        case .linear: break
        }
        var trainable: [Int]?
        if replacement == .ffn {
          guard let switching = layer as? any AttentionSwitching else {
            throw StreamlineError.badRequest(
              "--replace ffn needs a layer whose attention can be switched off, which \(config.modelType) layers cannot; use --replace layer"
            )
          }
          // Attention off: the layer becomes x + MLP(x), and only the MLP trains.
          trainable = switching.switchOffAttention()
        }
        if kind == .linear {
          // Fitted after attention is switched off, so the map fits the layer as it will run.
          try ReplacementInitialization.foldLinearMap(
            into: layer, data: data, targets: data.targets!, sequences: trainSet,
            modelType: config.modelType)
        }
        return (layer, trainable)
      }

      let requested = request.training.initialization
      var scored: [String: Double] = [:]
      var chosen = requested
      var picked: (any DecoderLayer, [Int]?, ReplacementTrainer)?
      for kind in requested == .auto ? ReplacementInit.candidates : [requested] {
        let (layer, trainable) = try candidate(kind)
        let trainer = try ReplacementTrainer(
          layer: layer, trainable: trainable, data: data, options: request.training, top: top)
        if requested == .auto {
          let loss = try trainer.validationLoss()
          scored[kind.rawValue] = loss
          if picked == nil || loss < scored[chosen.rawValue]! {
            (picked, chosen) = ((layer, trainable, trainer), kind)
          }
        } else {
          picked = (layer, trainable, trainer)
        }
      }
      let (layer, _, trainer) = picked!
      var report = try trainer.train(progress: progress("training the replacement"))
      if requested != .auto { scored[chosen.rawValue] = report.initialValidation }
      report.initialization = InitializationReport(
        requested: requested, chosen: chosen, validation: scored,
        mergeWeights: chosen == .merge || scored["merge"] != nil ? mergeWeights : nil)
      var overrides: [String: Surgery.Override] = [:]
      let prefix = config.layerPrefix(start)
      for (name, shape, values) in layer.namedParameters() {
        let source = prefix + name
        let dtype = try folder.info(source).dtype
        let copy = Array(values)
        overrides[source] = { newName in
          try WritableTensor(newName, shape: shape, values: copy, as: dtype)
        }
      }
      return CompressionPlan(
        analysis: analysis, start: start, end: end, removed: Array((start + 1)..<end),
        overrides: overrides, training: report, linearFit: nil)
    }
  }

  /// Whether the initialisation needs the block output h_end of the training sequences.
  static func fitsLinearMap(_ initialization: ReplacementInit) -> Bool {
    initialization == .linear || initialization == .auto
  }

  static func linear(
    folder: ModelFolder, config: any Architecture, store: StateStore, lengths: [Int], start: Int,
    end: Int, options: TrainingOptions, analysis: Analysis?
  ) throws -> CompressionPlan {
    let c = config.hiddenSize
    guard
      let before = try config.loadLayer(start - 1, from: folder, precision: .f32)
        as? any MLPOutputFolding
    else {
      throw StreamlineError.badRequest(
        "--replace linear folds a map into the MLP output projection of the layer before the block, which \(config.modelType) layers do not add straight into the residual stream; use --replace layer or none"
      )
    }
    let (trainSet, validationSet) = try ReplacementTrainer.split(
      lengths.count, fraction: options.validationFraction, seed: options.seed)
    let offsets = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
    let context = LayerContext(span: lengths.max() ?? 1)
    /// m (the MLP output), y (target − a) and the plain-removal residual, for `sequences`.
    func pairs(_ sequences: [Int]) -> (m: Tensor, y: Tensor, plain: Tensor) {
      let rows = sequences.reduce(0) { $0 + lengths[$1] }
      let m = Tensor(uninitialized: [rows, c])
      let y = Tensor(uninitialized: [rows, c])
      let plain = Tensor(uninitialized: [rows, c])
      var row = 0
      for s in sequences {
        let count = lengths[s]
        let x = Tensor(uninitialized: [count, c])
        x.pointer.update(
          from: store.pointer(state: start - 1) + offsets[s] * c, count: count * c)
        let beforeMLP = Tensor(uninitialized: [count, c])  // [count, C] a, with x = a + m
        before.forward(
          x.pointer, batch: Batch(lengths: [count]), context: context,
          beforeMLP: beforeMLP.pointer)
        let target = store.pointer(state: end) + offsets[s] * c
        for i in 0..<(count * c) {
          let a = beforeMLP.data[i]
          m.row(row)[i] = x.data[i] - a
          y.row(row)[i] = target[i] - a
          plain.row(row)[i] = target[i] - x.data[i]
        }
        row += count
      }
      return (m, y, plain)
    }
    let fitting = pairs(trainSet)
    let t = try LinearReplacement.fit(
      m: fitting.m.pointer, y: fitting.y.pointer, rows: fitting.m.rows, width: c)
    // Validation: ‖m·T − y‖² against plain removal's ‖h_i − h_i+n‖², per element.
    let held = pairs(validationSet)
    let transform = Tensor(shape: [c, c], values: t.map { Float($0) })
    let mapped = Tensor(uninitialized: held.m.shape)
    MatMul.gemm(
      transposeA: false, transposeB: false, m: held.m.rows, n: c, k: c, a: held.m.pointer,
      lda: c, b: transform.pointer, ldb: c, c: mapped.pointer, ldc: c)
    var fitted = 0.0
    var plain = 0.0
    for i in 0..<mapped.count {
      fitted += Double(mapped.data[i] - held.y.data[i]) * Double(mapped.data[i] - held.y.data[i])
      plain += Double(held.plain.data[i]) * Double(held.plain.data[i])
    }
    let projection = before.mlpOutputProjection
    let weightName = config.layerPrefix(start - 1) + projection.weight
    let biasName = projection.bias.map { config.layerPrefix(start - 1) + $0 }
    let weight = try folder.float(weightName, shape: [c, try folder.info(weightName).shape[1]])
    let bias = try biasName.map { try folder.float($0, shape: [c]) }
    let (folded, foldedBias) = LinearReplacement.fold(t, into: weight, bias: bias)
    var overrides: [String: Surgery.Override] = [:]
    let weightType = try folder.info(weightName).dtype
    overrides[weightName] = { try WritableTensor($0, folded, as: weightType) }
    if let foldedBias, let biasName {
      let biasType = try folder.info(biasName).dtype
      overrides[biasName] = { try WritableTensor($0, foldedBias, as: biasType) }
    }
    return CompressionPlan(
      analysis: analysis, start: start, end: end, removed: Array(start..<end),
      overrides: overrides, training: nil,
      linearFit: [
        "validation_mse": fitted / Double(max(1, mapped.count)),
        "plain_removal_validation_mse": plain / Double(max(1, mapped.count)),
        "fit_rows": Double(fitting.m.rows),
      ])
  }
}
