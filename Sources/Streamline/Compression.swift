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
  /// Blocks the layers go in: the best block goes, the pruned model is rescored, and so on
  /// (`--replace none` only when more than one).
  public var blocks = 1
  /// Scoring sums computed elsewhere (`analyze --save-stats`), used instead of scoring.
  public var sums: SimilaritySums?
  /// Stop once the training states are captured (measurements).
  public var stopAfterCapture = false

  public init() {}
}

/// What capturing the training states cost.
public struct CaptureReport: Codable, Sendable {
  /// The states kept (block input, and output or the state before the block).
  public let states: [Int]
  public let sequences: Int
  public let tokens: Int
  /// Bytes of states kept, and whether they went to a scratch file.
  public let bytes: Int
  public let spilled: Bool
  /// Decoder layers each training sequence went through.
  public let layersRun: Int
  public let seconds: Double

  enum CodingKeys: String, CodingKey {
    case states, sequences, tokens, bytes, spilled, seconds
    case layersRun = "layers_run"
  }
}

/// One block removed, in source-layer numbers, and how it scored when chosen.
public struct RemovedBlock: Codable, Sendable, Equatable {
  public let layers: [Int]
  /// Cosine and angular scores of the block on the model as pruned so far.
  public let cosine: Double
  public let angular: Double
}

/// The block chosen, what replaces it, and the record of how.
public struct CompressionPlan {
  public let analysis: Analysis?
  /// The scored block: states `start` → `end`.
  public let start: Int
  public let end: Int
  /// Source layers dropped from the checkpoint.
  public let removed: [Int]
  /// The layers plain removal drops for the held-out baseline: the same ones the checkpoint
  /// loses, nothing in their place, so the baseline has exactly as many layers as the pruned
  /// model. Dropping the whole replaced block (one layer more) would flatter the replacement.
  public var plainRemovalBaseline: [Int] { removed }
  public let overrides: [String: Surgery.Override]
  public let training: TrainingReport?
  /// Validation MSE of the linear map, and of plain removal, for `linear`.
  public let linearFit: [String: Double]?
  public var capture: CaptureReport? = nil
  /// Every block removed, in order (with `blocks` > 1).
  public var blocks: [RemovedBlock]? = nil
}

public enum Compression {
  /// Scores (unless the block is given), captures training states in the same pass, trains or
  /// fits the replacement, and returns what `Surgery.write` needs.
  ///
  /// The first `request.scoringSamples` of `sequences` are scored (unless the block is given);
  /// the rest train.
  public static func plan(
    model: DecoderModel, sequences: [[Int]], request: CompressionRequest,
    progress: (String) -> Progress
  ) throws -> CompressionPlan {
    let scoring =
      request.layers == nil && request.sums == nil
      ? min(request.scoringSamples, sequences.count) : 0
    return try plan(
      model: model, scoring: Array(sequences[..<scoring]), training: Array(sequences[scoring...]),
      request: request, progress: progress)
  }

  /// Scores `scoring` (one pass over every layer) unless the block is given or `request.sums`
  /// holds the scores, then captures only the states the replacement needs of `training`,
  /// running each sequence only as far as the last of them, and trains or fits the replacement.
  public static func plan(
    model: DecoderModel, scoring scored: [[Int]], training: [[Int]], request: CompressionRequest,
    progress: (String) -> Progress
  ) throws -> CompressionPlan {
    guard let folder = model.folder else { preconditionFailure("compression reads checkpoints") }
    try request.validate()
    let config = model.config
    let replacement = request.replacement
    guard request.blocks >= 1 else {
      throw StreamlineError.badRequest("--blocks must be at least 1, not \(request.blocks)")
    }
    if request.blocks > 1 {
      guard request.layers == nil, replacement == .none, request.sums == nil else {
        throw StreamlineError.badRequest(
          "--blocks \(request.blocks) rescores the pruned model after each block: it needs --replace none, scoring (not --layers) and no --stats"
        )
      }
      return try blocks(model: model, scoring: scored, request: request, progress: progress)
    }
    if request.training.healNeighbors && !replacement.isTrained {
      throw StreamlineError.badRequest(
        "--heal-neighbors trains the layers next to a trained replacement: it needs --replace layer or ffn"
      )
    }
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

    var analysis: Analysis?
    let start: Int
    let end: Int
    if let known {
      (start, end) = known
    } else {
      let count = try Importance.layerCount(
        request.removal!, config: config, replacement: replacement)
      let sums: SimilaritySums
      if let given = request.sums {
        guard given.numLayers == config.numLayers else {
          throw StreamlineError.badRequest(
            "the scoring statistics are of \(given.numLayers) layers, the model has \(config.numLayers)"
          )
        }
        sums = given
      } else {
        guard !scored.isEmpty else {
          throw StreamlineError.badRequest("no calibration sequences to score")
        }
        sums = try Similarity.measureSums(
          model: model, sequences: scored, memoryBudget: request.memoryBudget,
          progress: progress("scoring layers"))
      }
      let chosen = try Importance.analyze(
        sums.matrix, config: config, metric: request.metric, removing: count,
        replacement: replacement)
      analysis = chosen
      (start, end) = (chosen.chosen.start, chosen.chosen.end)
      if replacement == .none {
        return CompressionPlan(
          analysis: chosen, start: start, end: end, removed: chosen.chosen.layers, overrides: [:],
          training: nil, linearFit: nil)
      }
    }

    // Training states: only those the replacement needs, each sequence run only as far as the
    // last of them.
    let healed = healedNeighbors(
      start: start, end: end, layers: config.numLayers, options: request.training)
    var needed: [Int]
    switch (replacement, request.training.loss) {
    case (.none, _): needed = []
    case (.linear, _): needed = [start - 1, end]
    case (_, .mse): needed = [start, end]
    case (_, let loss):
      // lm and kd: the block input; the block output too when the initialisation fits the
      // linear map (`--init linear|auto`); and for kd the original's final state numLayers,
      // the teacher, so each training sequence then runs through every layer.
      needed = Array(
        Set(
          [start] + (fitsLinearMap(request.training.initialization) ? [end] : [])
            + (loss == .kd ? [config.numLayers] : []))
      ).sorted()
    }
    if healed.before != nil { needed = ([start - 1] + needed).sorted() }
    let lengths = training.map(\.count)
    var store: StateStore?
    var captureReport: CaptureReport?
    if !needed.isEmpty {
      let began = Date()
      let made = try StateStore(
        states: needed, rows: lengths.reduce(0, +), width: config.hiddenSize,
        memoryLimit: request.trainingMemory, directory: request.spillDirectory)
      try capture(
        model: model, sequences: training, into: made, memoryBudget: request.memoryBudget,
        progress: progress("capturing training states"))
      store = made
      captureReport = CaptureReport(
        states: needed, sequences: training.count, tokens: made.rows,
        bytes: needed.count * made.rows * made.width * MemoryLayout<Float>.size,
        spilled: made.isSpilled, layersRun: needed.max()!,
        seconds: Date().timeIntervalSince(began))
    }
    if request.stopAfterCapture {
      var plan = CompressionPlan(
        analysis: analysis, start: start, end: end, removed: [], overrides: [:], training: nil,
        linearFit: nil)
      plan.capture = captureReport
      return plan
    }
    var plan = try replace(
      folder: folder, config: config, precision: model.precision, replacement: replacement,
      store: store,
      lengths: lengths, training: training, start: start, end: end, request: request,
      analysis: analysis, progress: progress)
    plan.capture = captureReport
    return plan
  }

  /// Copies states `store.states` of every sequence into `store`, rows end to end: sequences go
  /// through in groups of at most `memoryBudget` bytes of residual stream, and only through
  /// the layers before the last state kept.
  public static func capture(
    model: DecoderModel, sequences: [[Int]], into store: StateStore, memoryBudget: Int,
    layers view: [Int]? = nil, progress: Progress? = nil
  ) throws {
    let c = model.config.hiddenSize
    let last = store.states.max() ?? 0
    let order = Array((view ?? Array(0..<model.config.numLayers)).prefix(last))
    let lengths = sequences.map(\.count)
    let offsets = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
    // The residual stream and the layer's own temporaries, about twice the stream.
    let rowLimit = max(1, memoryBudget / (2 * c * MemoryLayout<Float>.size))
    let groups = Batch(lengths: lengths).chunks(rowLimit: rowLimit)
    for (g, group) in groups.enumerated() {
      try model.forward(
        Array(sequences[group]), layers: order,
        hiddenState: { state, x, batch in
          guard store.contains(state) else { return }
          for s in group {
            let segment = batch.segments[s - group.lowerBound]
            store.pointer(state: state).advanced(by: offsets[s] * c)
              .update(from: x.row(segment.lowerBound), count: segment.count * c)
          }
        })
      store.release(rows: offsets[group.lowerBound]..<offsets[group.upperBound])
      progress?.update(g + 1, of: groups.count, amount: Double(offsets[group.upperBound]))
    }
  }

  /// `--blocks K`: n layers in K blocks as even as possible (the larger first), each the best
  /// block of the model as pruned so far, rescored on an in-memory view that skips the layers
  /// already gone.
  static func blocks(
    model: DecoderModel, scoring: [[Int]], request: CompressionRequest,
    progress: (String) -> Progress
  ) throws -> CompressionPlan {
    let config = model.config
    let n = try Importance.layerCount(request.removal!, config: config, replacement: .none)
    guard request.blocks <= n else {
      throw StreamlineError.badRequest(
        "--blocks \(request.blocks) needs at least as many layers to remove, not \(n)")
    }
    guard !scoring.isEmpty else {
      throw StreamlineError.badRequest("no calibration sequences to score")
    }
    let sizes = blockSizes(n, into: request.blocks)
    var view = Array(0..<config.numLayers)
    var removed: [RemovedBlock] = []
    var first: Analysis?
    for (b, size) in sizes.enumerated() {
      let sums = try Similarity.measureSums(
        model: model, sequences: scoring, memoryBudget: request.memoryBudget, layers: view,
        progress: progress("scoring layers (block \(b + 1) of \(sizes.count))"))
      let matrix = sums.matrix
      let blocks = Importance.scores(matrix, width: size)
      let chosen =
        request.metric == .angular
        ? Importance.choose(blocks, by: .angular) : Importance.choose(blocks, by: .cosine)
      if first == nil {
        first = try Importance.analyze(
          matrix, config: config, metric: request.metric == .bi ? .cosine : request.metric,
          removing: size, replacement: .none)
      }
      let score = blocks[chosen.start]
      removed.append(
        RemovedBlock(
          layers: chosen.layers.map { view[$0] }, cosine: score.cosine, angular: score.angular))
      view.removeSubrange(chosen.start..<chosen.end)
    }
    let all = removed.flatMap(\.layers).sorted()
    var plan = CompressionPlan(
      analysis: first, start: all.first!, end: all.last! + 1, removed: all, overrides: [:],
      training: nil, linearFit: nil)
    plan.blocks = removed
    return plan
  }

  /// n split into `count` parts as even as possible, the larger first.
  public static func blockSizes(_ n: Int, into count: Int) -> [Int] {
    (0..<count).map { n / count + ($0 < n % count ? 1 : 0) }
  }

  static func replace(
    folder: ModelFolder, config: any Architecture, precision: Precision,
    replacement: ReplacementKind, store: StateStore?,
    lengths: [Int], training: [[Int]], start: Int, end: Int, request: CompressionRequest,
    analysis: Analysis?, progress: (String) -> Progress
  ) throws -> CompressionPlan {
    switch replacement {
    case .none:
      return CompressionPlan(
        analysis: analysis, start: start, end: end,
        removed: request.layers ?? Array(start..<end), overrides: [:],
        training: nil, linearFit: nil)
    case .linear:
      return try linear(
        folder: folder, config: config, store: store!, lengths: lengths, start: start, end: end,
        options: request.training, analysis: analysis)
    case .layer, .ffn:
      let load = { (index: Int) in try config.loadLayer(index, from: folder, precision: .f32) }
      let healed = healedNeighbors(
        start: start, end: end, layers: config.numLayers, options: request.training)
      let neighbors =
        try healed.before == nil && healed.after == nil
        ? nil
        : HealedNeighbors(
          before: healed.before.map(load), after: healed.after.map(load),
          rateScale: request.training.healRateScale)
      var top: FrozenTop?
      if request.training.loss.throughTop {
        let first = healed.after.map { $0 + 1 } ?? end
        let count = config.numLayers - first
        let head = try config.loadHead(from: folder, precision: .f32)
        // The teacher's logits are only ever a forward, so they run in the model's precision
        // (bf16 halves their cost where it is native); the student's head is backpropagated
        // through and stays Float32.
        let teacherHead =
          request.training.loss == .kd
          ? try config.loadHead(from: folder, precision: precision) : nil
        let (weightBytes, overflow) = count.multipliedReportingOverflow(
          by: config.parametersPerLayer * MemoryLayout<Float>.size)
        top =
          !overflow && weightBytes <= request.training.frozenWeightBytes
          ? FrozenTop(
            layers: try (first..<config.numLayers).map(load), head: head,
            teacherHead: teacherHead)
          : FrozenTop(
            count: count, load: { try load(first + $0) }, head: head, teacherHead: teacherHead)
      }
      let fitsLinear = Self.fitsLinearMap(request.training.initialization)
      let data = TrainingData(
        lengths: lengths, inputs: store!.pointer(state: start),
        targets: request.training.loss == .mse || fitsLinear ? store!.pointer(state: end) : nil,
        tokens: training, width: config.hiddenSize,
        teacher: request.training.loss == .kd ? store!.pointer(state: config.numLayers) : nil,
        preceding: healed.before.map { store!.pointer(state: $0) })
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
            let why = layer.reasonLacking(
              .attentionSwitching, otherwise: "which \(config.modelType) layers cannot")
            throw StreamlineError.badRequest(
              "--replace ffn needs a layer whose attention can be switched off: \(why); use --replace layer"
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
      // `auto` leaves out `linear` for a family whose MLP output cannot take the map (Gemma's
      // post-feed-forward norm); asked for by name, it is refused with the reason.
      let canFold = try requested != .auto || load(start) is any MLPOutputFolding
      let kinds =
        requested == .auto
        ? ReplacementInit.candidates.filter { $0 != .linear || canFold } : [requested]
      for kind in kinds {
        let (layer, trainable) = try candidate(kind)
        let trainer = try ReplacementTrainer(
          layer: layer, trainable: trainable, data: data, options: request.training, top: top,
          neighbors: neighbors)
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
      if request.training.healNeighbors {
        report.healedLayers = [healed.before, healed.after].compactMap { $0 }
      }
      var overrides: [String: Surgery.Override] = [:]
      var written: [(Int, any DecoderLayer)] = [(start, layer)]
      if let index = healed.before, let before = neighbors?.before {
        written.append((index, before))
      }
      if let index = healed.after, let after = neighbors?.after { written.append((index, after)) }
      for (index, trained) in written {
        let prefix = config.layerPrefix(index)
        for (name, shape, values) in trained.namedParameters() {
          let source = prefix + name
          let dtype = try folder.info(source).dtype
          let copy = Array(values)
          overrides[source] = { newName in
            try WritableTensor(newName, shape: shape, values: copy, as: dtype)
          }
        }
      }
      return CompressionPlan(
        analysis: analysis, start: start, end: end, removed: Array((start + 1)..<end),
        overrides: overrides, training: report, linearFit: nil)
    }
  }

  /// The source layers `--heal-neighbors` trains beside the replacement of `start..<end`: the
  /// one before the block (when there is one), and the one after it (when there is one and the
  /// loss reaches it: `lm`, `kd`).
  static func healedNeighbors(start: Int, end: Int, layers: Int, options: TrainingOptions)
    -> (before: Int?, after: Int?)
  {
    guard options.healNeighbors else { return (nil, nil) }
    return (
      start > 0 ? start - 1 : nil, options.loss.throughTop && end < layers ? end : nil
    )
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
    let loaded = try config.loadLayer(start - 1, from: folder, precision: .f32)
    guard let before = loaded as? any MLPOutputFolding else {
      let why = loaded.reasonLacking(
        .mlpOutputFolding,
        otherwise: "\(config.modelType) layers do not add it straight into the residual stream")
      throw StreamlineError.badRequest(
        "--replace linear folds a map into the MLP output projection of the layer before the block: \(why); use --replace layer or none"
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
