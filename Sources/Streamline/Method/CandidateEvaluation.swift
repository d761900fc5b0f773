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

/// The original model's next-token distributions on fixed windows, against which candidates
/// (the model with layers skipped, some of them compensated in memory) are measured without
/// writing a checkpoint: one forward of the windows per candidate.
///
/// The original's final residual states of the scored rows are kept (`[rows, C]`, far smaller
/// than their logits) and its logits recomputed from them, a sequence at a time, by the head.
public final class ReferenceDistributions {
  public let windows: [TextWindow]
  /// The original model's own perplexity of the windows (its KL is 0).
  public private(set) var original = CandidateLoss(perplexity: .nan, kl: 0, tokens: 0)
  let head: any LanguageModelHead
  let states: Tensor
  /// Each window's first row in `states`.
  let offsets: [Int]
  let rowLimit: Int

  /// Runs `model` over `windows` once; `memoryBudget` bounds the rows in one forward.
  public init(model: DecoderModel, windows: [TextWindow], memoryBudget: Int) throws {
    guard !windows.isEmpty else { throw CompressionError.noScoringSequences }
    self.windows = windows
    head = try model.head()
    let c = model.config.hiddenSize
    offsets = windows.reduce(into: [0]) { $0.append($0.last! + $1.targets.count) }
    states = Tensor(uninitialized: [offsets.last!, c])
    rowLimit = max(1, memoryBudget / (2 * c * MemoryLayout<Float>.size))
    let states = self.states
    let offsets = self.offsets
    original = try measure(
      model, layers: nil, substitutes: [:],
      finalState: { w, x, first in
        states.row(offsets[w]).update(from: x.row(first), count: windows[w].targets.count * c)
      })
  }

  /// The candidate that runs `model` through `layers` (all by default), `substitutes[i]` in
  /// place of layer i.
  public func measure(
    _ model: DecoderModel, layers: [Int]? = nil, substitutes: [Int: any DecoderLayer] = [:]
  ) throws -> CandidateLoss {
    guard model.config.vocabSize == head.vocabSize, model.config.hiddenSize == head.hiddenSize
    else {
      preconditionFailure("a candidate has the original's vocabulary and width")
    }
    return try measure(model, layers: layers, substitutes: substitutes, finalState: nil)
  }

  private func measure(
    _ model: DecoderModel, layers: [Int]?, substitutes: [Int: any DecoderLayer],
    finalState: ((Int, Tensor, Int) -> Void)?
  ) throws -> CandidateLoss {
    let vocabulary = head.vocabSize
    let depth = layers?.count ?? model.config.numLayers
    var nll = [Double](repeating: 0, count: offsets.last!)
    var kl = [Double](repeating: 0, count: offsets.last!)
    let groups = Batch(lengths: windows.map(\.input.count)).chunks(rowLimit: rowLimit)
    for group in groups {
      let inputs = windows[group].map(\.input)
      try model.forward(
        inputs, layers: layers, substitutes: substitutes,
        hiddenState: { step, x, batch in
          guard step == depth, let finalState else { return }
          for w in group {
            let segment = batch.segments[w - group.lowerBound]
            finalState(w, x, segment.upperBound - self.windows[w].targets.count)
          }
        },
        logits: { s, logits, length in
          let w = group.lowerBound + s
          let targets = self.windows[w].targets
          let first = length - targets.count
          let teacher: Tensor? =
            finalState == nil ? Tensor(uninitialized: [targets.count, vocabulary]) : nil
          if let teacher {
            _ = self.head.forward(
              self.states.row(self.offsets[w]), rows: targets.count, logits: teacher.pointer)
            try MatMul.checkFailures()
          }
          nll.withUnsafeMutableBufferPointer { nll in
            kl.withUnsafeMutableBufferPointer { kl in
              DispatchQueue.concurrentPerform(iterations: targets.count) { k in
                let row = logits + (first + k) * vocabulary
                let out = self.offsets[w] + k
                nll[out] = LogSoftmax.logSumExp(row, count: vocabulary) - Double(row[targets[k]])
                if let teacher {
                  kl[out] = RowSoftmax.klDivergence(
                    teacher: teacher.row(k), student: UnsafeMutablePointer(mutating: row),
                    count: vocabulary, gradientScale: nil)
                }
              }
            }
          }
        })
    }
    let tokens = nll.count
    return CandidateLoss(
      perplexity: exp(nll.reduce(0, +) / Double(max(1, tokens))),
      kl: kl.reduce(0, +) / Double(max(1, tokens)), tokens: tokens)
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
