import Checkpoint
import Evaluation
import Foundation
import Models
import Tensors

/// What a candidate costs against the original model on the same windows: the perplexity of
/// their targets and KL(original ‖ candidate) over the same rows, as `eval --perplexity
/// --reference` defines both.
public struct CandidateLoss: Codable, Sendable, Equatable {
  public let perplexity: Double
  /// Mean KL(original ‖ candidate) per scored token, in nats.
  public let kl: Double
  public let tokens: Int
}

/// One model measured against the reference: `model` run through `layers` (all when nil),
/// `substitutes[i]` in place of layer i.
public struct CandidateModel {
  public let model: DecoderModel
  public let layers: [Int]?
  public let substitutes: [Int: any DecoderLayer]

  public init(
    _ model: DecoderModel, layers: [Int]? = nil, substitutes: [Int: any DecoderLayer] = [:]
  ) {
    self.model = model
    self.layers = layers
    self.substitutes = substitutes
  }
}

/// The original model's next-token distributions on fixed windows, against which candidates
/// (the model with layers skipped, some of them compensated in memory) are measured without
/// writing a checkpoint: one forward of the windows per candidate.
///
/// The original's final residual states of the scored rows are kept (`[rows, C]`, far smaller
/// than their logits) and its logits recomputed from them by the head, a block of rows at a
/// time, once for all the candidates measured together; each candidate's logits come from its
/// own final states through the same head.
public final class ReferenceDistributions {
  public let windows: [TextWindow]
  /// The original model's own perplexity of the windows (its KL is 0).
  public private(set) var original = CandidateLoss(perplexity: .nan, kl: 0, tokens: 0)
  let head: any LanguageModelHead
  let states: Tensor
  /// Each window's first row in `states`.
  let offsets: [Int]
  let memoryBudget: Int
  /// Rows whose logits are held at once: 2²⁶ values, as `DecoderModel.applyHead` bounds them.
  var headRows: Int

  /// Runs `model` over `windows` once; `memoryBudget` bounds the rows in one forward.
  public init(model: DecoderModel, windows: [TextWindow], memoryBudget: Int) throws {
    guard !windows.isEmpty else { throw CompressionError.noScoringSequences }
    self.windows = windows
    self.memoryBudget = memoryBudget
    head = try model.head()
    headRows = max(1, (1 << 26) / head.vocabSize)
    offsets = windows.reduce(into: [0]) { $0.append($0.last! + $1.targets.count) }
    states = Tensor(uninitialized: [offsets.last!, model.config.hiddenSize])
    original = try measure([CandidateModel(model)], teacher: false)[0]
  }

  /// The candidate that runs `model` through `layers` (all by default), `substitutes[i]` in
  /// place of layer i.
  public func measure(
    _ model: DecoderModel, layers: [Int]? = nil, substitutes: [Int: any DecoderLayer] = [:]
  ) throws -> CandidateLoss {
    try measure([CandidateModel(model, layers: layers, substitutes: substitutes)])[0]
  }

  /// Each candidate's loss; the original's logits are computed once for all of them.
  /// `progress(done, total)` follows the forwards and the head passes.
  public func measure(
    _ candidates: [CandidateModel], progress: ((Int, Int) -> Void)? = nil
  ) throws -> [CandidateLoss] {
    for candidate in candidates {
      guard candidate.model.config.vocabSize == head.vocabSize,
        candidate.model.config.hiddenSize == head.hiddenSize
      else {
        preconditionFailure("a candidate has the original's vocabulary and width")
      }
    }
    return try measure(candidates, teacher: true, progress: progress)
  }

  /// Without `teacher`, the one candidate is the original itself: its final states are kept as
  /// the reference and its KL is 0.
  private func measure(
    _ candidates: [CandidateModel], teacher: Bool, progress: ((Int, Int) -> Void)? = nil
  ) throws -> [CandidateLoss] {
    guard !candidates.isEmpty else { return [] }
    let c = head.hiddenSize
    let vocabulary = head.vocabSize
    let rows = offsets.last!
    var nll = [[Double]](repeating: [Double](repeating: 0, count: rows), count: candidates.count)
    var kl = nll
    // Each candidate keeps its final states of a group's scored rows until the head runs.
    let rowLimit = max(1, memoryBudget / ((1 + candidates.count) * c * MemoryLayout<Float>.size))
    let groups = Batch(lengths: windows.map(\.input.count)).chunks(rowLimit: rowLimit)
    let teacherLogits = teacher ? Tensor(uninitialized: [headRows, vocabulary]) : nil
    let studentLogits = Tensor(uninitialized: [headRows, vocabulary])
    // Per group, each candidate's forward and then the head over all of them.
    let steps = groups.count * (candidates.count + 1)
    var done = 0
    func advance() {
      done += 1
      progress?(done, steps)
    }
    for group in groups {
      let groupOffset = offsets[group.lowerBound]
      let groupRows = offsets[group.upperBound] - groupOffset
      var kept: [Tensor] = []
      var finals: [UnsafeMutablePointer<Float>] = []
      for candidate in candidates {
        let final: UnsafeMutablePointer<Float>
        if teacher {
          kept.append(Tensor(uninitialized: [groupRows, c]))
          final = kept.last!.pointer
        } else {
          final = states.row(groupOffset)
        }
        let depth = candidate.layers?.count ?? candidate.model.config.numLayers
        try candidate.model.forward(
          windows[group].map(\.input), layers: candidate.layers,
          substitutes: candidate.substitutes,
          hiddenState: { step, x, batch in
            guard step == depth else { return }
            for w in group {
              let segment = batch.segments[w - group.lowerBound]
              let count = self.windows[w].targets.count
              (final + (self.offsets[w] - groupOffset) * c).update(
                from: x.row(segment.upperBound - count), count: count * c)
            }
          })
        finals.append(final)
        advance()
      }
      // The group's scored rows lie end to end, in `states` as in each candidate's finals.
      let targets = windows[group].flatMap(\.targets)
      for first in stride(from: 0, to: groupRows, by: headRows) {
        let count = min(headRows, groupRows - first)
        if let teacherLogits {
          _ = head.forward(
            states.row(groupOffset + first), rows: count, logits: teacherLogits.pointer)
          try MatMul.checkFailures()
        }
        for (k, final) in finals.enumerated() {
          _ = head.forward(final + first * c, rows: count, logits: studentLogits.pointer)
          try MatMul.checkFailures()
          nll[k].withUnsafeMutableBufferPointer { nll in
            kl[k].withUnsafeMutableBufferPointer { kl in
              DispatchQueue.concurrentPerform(iterations: count) { i in
                let row = studentLogits.row(i)
                let out = groupOffset + first + i
                nll[out] =
                  LogSoftmax.logSumExp(row, count: vocabulary) - Double(row[targets[first + i]])
                if let teacherLogits {
                  kl[out] = RowSoftmax.klDivergence(
                    teacher: teacherLogits.row(i), student: row, count: vocabulary,
                    gradientScale: nil)
                }
              }
            }
          }
        }
      }
      advance()
    }
    return candidates.indices.map { k in
      CandidateLoss(
        perplexity: exp(nll[k].reduce(0, +) / Double(max(1, rows))),
        kl: kl[k].reduce(0, +) / Double(max(1, rows)), tokens: rows)
    }
  }
}

/// The training-free map (ReplaceMe) fitted in memory for a candidate block, without writing
/// a checkpoint: the layer before the block with the map folded into its MLP output
/// projection, its weights rounded to the checkpoint's dtype as `prune --replace linear` writes
/// them, so the candidate is the model that `prune` would write.
public enum LinearCompensation {
  /// The states every candidate's fit reads: the input of the layer before each block and the
  /// block's output.
  public static func states(_ blocks: [SelectedBlock]) -> [Int] {
    Set(blocks.filter { $0.start >= 1 }.flatMap { [$0.start - 1, $0.end] }).sorted()
  }

  /// Layer `block.start − 1` with the map fitted on sequences `fitting` of `store` (sequences
  /// of `lengths`, rows end to end) folded in; nil for a block at the first layer, which has no
  /// layer before it.
  public static func substitute(
    for block: SelectedBlock, model: DecoderModel, store: StateStore, lengths: [Int],
    fitting: [Int]
  ) throws -> (layer: Int, replacement: any DecoderLayer)? {
    guard block.start >= 1 else { return nil }
    let layer = try substitute(
      foldingInto: block.start - 1, end: block.end, model: model, inputs: store, targets: store,
      lengths: lengths, fitting: fitting)
    return (block.start - 1, layer)
  }

  /// Layer `index` with the map from its MLP output to what layers `index + 1 ..< end` add
  /// folded in, fitted on sequences `fitting`: its input state from `inputs`, state `end` from
  /// `targets` (the original's, when another model's layers are being compensated).
  public static func substitute(
    foldingInto index: Int, end: Int, model: DecoderModel, inputs: StateStore,
    targets: StateStore, lengths: [Int], fitting: [Int]
  ) throws -> any DecoderLayer {
    guard let folder = model.folder else { preconditionFailure("compensation reads checkpoints") }
    let layer = try model.config.loadLayer(index, from: folder, precision: .f32)
    guard let folding = layer as? any MLPOutputFolding else {
      throw CompressionError.mapCannotFoldBeforeBlock(
        reason: layer.reasonLacking(
          .mlpOutputFolding,
          otherwise:
            "\(model.config.modelType) layers do not add it straight into the residual stream"))
    }
    let (map, _) = try LinearReplacement.fit(
      layer: folding, inputs: inputs.pointer(state: index), targets: targets.pointer(state: end),
      lengths: lengths, sequences: fitting)
    let names = folding.mlpOutputProjection
    let prefix = model.config.layerPrefix(index)
    guard let weight = ReplacementInitialization.tensor(named: names.weight, in: layer) else {
      throw CompressionError.missingParameter(modelType: model.config.modelType, name: names.weight)
    }
    let bias = names.bias.flatMap { ReplacementInitialization.tensor(named: $0, in: layer) }
    let (folded, foldedBias) = LinearReplacement.fold(map, into: weight, bias: bias)
    weight.pointer.update(from: folded.pointer, count: folded.count)
    try roundToStorage(weight, dtype: folder.info(prefix + names.weight).dtype)
    if let bias, let foldedBias, let biasName = names.bias {
      bias.pointer.update(from: foldedBias.pointer, count: bias.count)
      try roundToStorage(bias, dtype: folder.info(prefix + biasName).dtype)
    }
    return layer
  }

  /// Layer `index` followed by the map from its output to state `end`, fitted on sequences
  /// `fitting` as `substitute(foldingInto:)` fits its map: for a family whose MLP output
  /// cannot take the map, the map acts on the whole residual stream, in memory only. The
  /// layer's output is state `index + 1` of `inputs`, captured from the same model.
  public static func mapped(
    after index: Int, end: Int, model: DecoderModel, inputs: StateStore, targets: StateStore,
    lengths: [Int], fitting: [Int]
  ) throws -> any DecoderLayer {
    guard let folder = model.folder else { preconditionFailure("compensation reads checkpoints") }
    let c = model.config.hiddenSize
    let offsets = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
    let rows = fitting.reduce(0) { $0 + lengths[$1] }
    let outputs = Tensor(uninitialized: [rows, c])  // [rows, C] the layer's output
    let wanted = Tensor(uninitialized: [rows, c])  // [rows, C] state `end`
    var row = 0
    for s in fitting {
      let count = lengths[s]
      outputs.row(row).update(
        from: inputs.pointer(state: index + 1) + offsets[s] * c, count: count * c)
      wanted.row(row).update(from: targets.pointer(state: end) + offsets[s] * c, count: count * c)
      row += count
    }
    let map = try LinearReplacement.fit(
      m: outputs.pointer, y: wanted.pointer, rows: rows, width: c)
    return MappedLayer(
      try model.config.loadLayer(index, from: folder, precision: .f32),
      map: Tensor(shape: [c, c], values: map.map(Float.init)))
  }

  /// Why the map cannot fold into `model`'s layers (Gemma's post-feed-forward norm), nil when
  /// it can: every layer of a family is alike, so its first layer answers for all.
  public static func reasonCannotFold(_ model: DecoderModel) throws -> String? {
    guard let folder = model.folder else { preconditionFailure("compensation reads checkpoints") }
    let first = try model.config.loadLayer(0, from: folder, precision: .f32)
    return first is any MLPOutputFolding
      ? nil
      : first.reasonLacking(
        .mlpOutputFolding,
        otherwise:
          "\(model.config.modelType) layers do not add it straight into the residual stream")
  }

  /// Rounds `tensor`'s values as storing them in `dtype` would.
  static func roundToStorage(_ tensor: Tensor, dtype: DType) throws {
    let p = tensor.pointer
    switch dtype {
    case .BF16:
      for i in 0..<tensor.count { p[i] = Numerics.float(fromBF16: Numerics.bf16(from: p[i])) }
    case .F16:
      for i in 0..<tensor.count { p[i] = Numerics.float(fromF16: Numerics.f16(from: p[i])) }
    default: break
    }
  }
}

/// A layer followed by a fixed linear map of the residual stream, x ← layer(x)·T: the
/// training-free map held in memory where it cannot fold into the layer, so that a block can
/// be measured as the map would compensate it. It is measured, never trained or written.
final class MappedLayer: DecoderLayer, @unchecked Sendable {
  let inner: any DecoderLayer
  let map: Tensor  // [C, C], input feature by output feature

  init(_ inner: any DecoderLayer, map: Tensor) {
    self.inner = inner
    self.map = map
  }

  var hiddenSize: Int { inner.hiddenSize }
  var parameterTable: [LayerParameter] { inner.parameterTable }

  func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext, workspace: Workspace?
  ) {
    inner.forward(x, batch: batch, context: context, workspace: workspace)
    let c = hiddenSize
    let output = Tensor(uninitialized: [batch.rows, c])  // [rows, C] before the map
    output.pointer.update(from: x, count: output.count)
    MatMul.gemm(
      transposeA: false, transposeB: false, m: batch.rows, n: c, k: c, a: output.pointer,
      lda: c, b: map.pointer, ldb: c, c: x, ldc: c)
  }

  func forwardSaving(_ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext)
    -> any SavedActivations
  {
    preconditionFailure("an in-memory map is measured, never trained")
  }

  func backward(
    _ saved: any SavedActivations, gradient: UnsafeMutablePointer<Float>,
    into gradients: LayerGradients?, context: LayerContext
  ) {
    preconditionFailure("an in-memory map is measured, never trained")
  }
}
