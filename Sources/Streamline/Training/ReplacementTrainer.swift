import Foundation
import Models
import Tensors

/// Trains a replacement layer R so that R(h_i) ≈ h_i+k (or so the pruned model predicts the
/// next token), with causal attention at the real positions exactly as at inference; AdamW,
/// warm-up then cosine decay, global-norm clipping, gradient accumulation; validation at
/// intervals, keeping the best weights, the initial ones included.
public final class ReplacementTrainer {
  /// One layer that trains: its parameters (a subset for an MLP-only replacement), their
  /// gradients, and its learning rate as a share of the peak.
  struct Stage {
    let layer: any DecoderLayer
    let trainable: [Tensor]
    let gradients: LayerGradients
    let trainableGradients: [Tensor]
    let rateScale: Double
    /// With low-rank adapters, they are what trains: `trainable` and `trainableGradients` are
    /// theirs, and the layer's own gradients are projected onto them.
    let adapters: LowRankAdapters?

    init(
      _ layer: any DecoderLayer, trainable: [Int]?, rateScale: Double,
      adapters settings: AdapterSettings? = nil, seed: UInt64 = 0
    ) {
      self.layer = layer
      self.rateScale = rateScale
      gradients = LayerGradients(zerosFor: layer)
      let chosen = trainable ?? Array(layer.parameterTable.indices)
      if let settings {
        var generator = SplitMix(seed: seed)
        let adapters = LowRankAdapters(
          layer: layer, entries: chosen, gradients: gradients, rank: settings.rank,
          alpha: settings.alpha, using: &generator)
        self.adapters = adapters
        self.trainable = adapters.parameters
        trainableGradients = adapters.gradients
        return
      }
      adapters = nil
      let parameters = layer.parameters
      self.trainable = chosen.map { parameters[$0] }
      let all = gradients.tensors
      trainableGradients = chosen.map { all[$0] }
    }
  }

  /// The layers that train, bottom to top: the healed layer before the block, the
  /// replacement, the healed layer after it.
  let stages: [Stage]
  /// The replacement's index in `stages`.
  let replacementStage: Int
  /// Layers of the frozen top that train too, by their index in it (the earlier replacements
  /// of compensated removal); each runs in place of the top's own layer.
  let aboveStages: [Int: Stage]
  let data: TrainingData
  let options: TrainingOptions
  /// The loss, from `options.loss`.
  let objective: any TrainingObjective
  let top: FrozenTop?
  let context: LayerContext

  /// `trainable` picks, by index into `layer.parameters`, what is updated (all by default);
  /// `above[i]` trains (its `trainable` subset) in place of the top's layer i, at
  /// `options.retrainRateScale` times the replacement's learning rate.
  /// With `adapters`, every stage trains low-rank adapters merged into its layer instead of the
  /// layer's own parameters.
  public init(
    layer: any DecoderLayer, trainable: [Int]? = nil, data: TrainingData, options: TrainingOptions,
    top: FrozenTop? = nil, neighbors: HealedNeighbors? = nil,
    above: [Int: (layer: any DecoderLayer, trainable: [Int]?)] = [:],
    adapters: AdapterSettings? = nil
  ) throws {
    let objective = options.loss.objective
    guard !objective.throughTop || top != nil else {
      preconditionFailure("a loss at the model's output needs the frozen top")
    }
    guard neighbors?.before == nil || data.preceding != nil else {
      preconditionFailure("healing the layer before the block needs its input states")
    }
    guard neighbors?.after == nil || objective.throughTop else {
      preconditionFailure("the layer after the block trains only through the frozen top")
    }
    guard above.keys.allSatisfy({ (0..<(top?.count ?? 0)).contains($0) }) else {
      preconditionFailure("a layer above the block trains only inside the frozen top")
    }
    self.data = data
    self.options = options
    self.objective = objective
    self.top = top
    var stages: [Stage] = []
    let scale = neighbors?.rateScale ?? 1
    // Each stage's adapters draw from a stream of their own, fixed by the seed.
    func seed(_ stage: Int) -> UInt64 { options.seed ^ (0xADA9_7E25 &* UInt64(stage + 1)) }
    if let before = neighbors?.before {
      stages.append(
        Stage(before, trainable: nil, rateScale: scale, adapters: adapters, seed: seed(-1)))
    }
    replacementStage = stages.count
    stages.append(
      Stage(layer, trainable: trainable, rateScale: 1, adapters: adapters, seed: seed(0)))
    if let after = neighbors?.after {
      stages.append(
        Stage(after, trainable: nil, rateScale: scale, adapters: adapters, seed: seed(1)))
    }
    self.stages = stages
    aboveStages = Dictionary(
      uniqueKeysWithValues: above.map { index, entry in
        (
          index,
          Stage(
            entry.layer, trainable: entry.trainable, rateScale: options.retrainRateScale,
            adapters: adapters, seed: seed(index + 2))
        )
      })
    context = LayerContext(span: data.lengths.max() ?? 1)
  }

  /// Every stage that trains, bottom to top.
  var allStages: [Stage] { stages + aboveStages.keys.sorted().map { aboveStages[$0]! } }
  var trainable: [Tensor] { allStages.flatMap(\.trainable) }
  var trainableGradients: [Tensor] { allStages.flatMap(\.trainableGradients) }

  /// The top's layer `i` as it runs: a training stage or the frozen layer.
  func topLayer(_ i: Int) throws -> any DecoderLayer {
    try aboveStages[i]?.layer ?? top!.layer(i)
  }

  /// Splits the sequences into training and validation sets with the seed.
  static func split(_ count: Int, fraction: Double, seed: UInt64) throws -> (
    train: [Int], validation: [Int]
  ) {
    guard count >= 2 else {
      throw CompressionError.tooFewSequencesToSplit(count)
    }
    var generator = SplitMix(seed: seed ^ 0x5EED)
    var order = Array(0..<count)
    generator.shuffle(&order)
    let held = min(count - 1, max(1, Int((Double(count) * fraction).rounded())))
    return (Array(order[held...]).sorted(), Array(order[..<held]).sorted())
  }

  /// Copies the rows of `sequences` into one batch: inputs (the first stage's), the
  /// objective's targets and the batch layout.
  func gather(_ sequences: [Int]) -> (Tensor, Tensor?, Batch, [[Int]]) {
    let offsets = data.offsets
    let lengths = sequences.map { data.lengths[$0] }
    let rows = lengths.reduce(0, +)
    let x = Tensor(uninitialized: [rows, data.width])
    let input = replacementStage > 0 ? data.preceding! : data.inputs
    let source = objective.targets(in: data)
    let y = source.map { _ in Tensor(uninitialized: [rows, data.width]) }
    var row = 0
    for s in sequences {
      let count = data.lengths[s] * data.width
      x.row(row).update(from: input + offsets[s] * data.width, count: count)
      if let source, let y {
        y.row(row).update(from: source + offsets[s] * data.width, count: count)
      }
      row += data.lengths[s]
    }
    return (
      x, y, Batch(lengths: lengths), sequences.map { data.tokens.isEmpty ? [] : data.tokens[$0] }
    )
  }

  /// The loss of the current weights on `sequences` (forward only), a micro-batch at a time;
  /// `identity` skips the replacement (plain removal).
  func evaluate(_ sequences: [Int], identity: Bool = false) throws -> Double {
    var total = 0.0
    var weight = 0.0
    for start in stride(from: 0, to: sequences.count, by: options.microBatch) {
      let part = Array(sequences[start..<min(sequences.count, start + options.microBatch)])
      let (loss, count) = try pass(part, identity: identity, gradientScale: nil)
      total += loss * count
      weight += count
    }
    return total / max(1, weight)
  }

  /// The validation split's loss of the current weights (an initialisation's score).
  public func validationLoss() throws -> Double {
    try evaluate(
      Self.split(data.lengths.count, fraction: options.validationFraction, seed: options.seed)
        .validation)
  }

  /// One micro-batch forward and backward; gradients are added, scaled by `scale`.
  func accumulate(_ sequences: [Int], scale: Float) throws -> Double {
    try pass(sequences, gradientScale: scale).loss
  }

  /// One micro-batch through the training stages, the frozen top when the loss is at the
  /// model's output, and the objective's loss: forward only without `gradientScale`
  /// (evaluation), else backward too, gradients added scaled by it (training). The loss is the
  /// same code either way; only whether activations are saved and the gradient taken differs.
  func pass(_ sequences: [Int], identity: Bool = false, gradientScale scale: Float?) throws -> (
    loss: Double, weight: Double
  ) {
    let (x, y, batch, tokens) = gather(sequences)
    guard let scale else {
      for (index, stage) in stages.enumerated() where !identity || index != replacementStage {
        stage.layer.forward(x.pointer, batch: batch, context: context)
      }
      if objective.throughTop {
        for i in 0..<top!.count {
          try topLayer(i).forward(x.pointer, batch: batch, context: context)
        }
      }
      let result = objective.loss(
        x: x, targets: y, batch: batch, tokens: tokens, top: top, gradient: nil, scale: 1)
      try MatMul.checkFailures()
      return result
    }
    let saved = stages.map { $0.layer.forwardSaving(x.pointer, batch: batch, context: context) }
    let gradient = Tensor(zeros: x.shape)  // [rows, C], dL/d(R's output)
    let result: (loss: Double, weight: Double)
    if objective.throughTop {
      let top = top!
      // Keep each frozen layer's activations when they fit `frozenActivationBytes` (as
      // autograd does); beyond it keep only its input and recompute them in the backward.
      let keep =
        top.count * batch.rows * frozenActivationFloatsPerRow * 4
        <= options.frozenActivationBytes
      // A layer that trains always keeps them.
      var kept: [(any SavedActivations)?] = []
      var inputs: [Tensor?] = []
      for i in 0..<top.count {
        let layer = try topLayer(i)
        if keep || aboveStages[i] != nil {
          kept.append(layer.forwardSaving(x.pointer, batch: batch, context: context))
          inputs.append(nil)
        } else {
          kept.append(nil)
          inputs.append(x.copy())
          layer.forward(x.pointer, batch: batch, context: context)
        }
      }
      result = objective.loss(
        x: x, targets: y, batch: batch, tokens: tokens, top: top, gradient: gradient.pointer,
        scale: scale)
      for i in (0..<top.count).reversed() {
        let layer = try topLayer(i)
        if let saved = kept[i] {
          layer.backward(
            saved, gradient: gradient.pointer, into: aboveStages[i]?.gradients, context: context)
        } else {
          layer.backward(
            input: inputs[i]!.pointer, gradient: gradient.pointer, into: nil, batch: batch,
            context: context)
        }
      }
    } else {
      result = objective.loss(
        x: x, targets: y, batch: batch, tokens: tokens, top: top, gradient: gradient.pointer,
        scale: scale)
    }
    for (stage, saved) in zip(stages, saved).reversed() {
      stage.layer.backward(
        saved, gradient: gradient.pointer, into: stage.gradients, context: context)
    }
    try MatMul.checkFailures()
    return result
  }

  /// Floats a frozen layer's saved activations take per row, bounded from its parameter table:
  /// what a layer saves are the outputs of its products and norms (and their inputs, which are
  /// other outputs), so twice the sum of every tensor's output width bounds it.
  lazy var frozenActivationFloatsPerRow: Int = {
    guard let top, top.count > 0, let probe = try? top.layer(0) else { return 0 }
    return 2 * probe.parameterTable.reduce(0) { $0 + ($1.tensor.shape.first ?? 0) }
  }()

  public func train(progress: Progress? = nil) throws -> TrainingReport {
    let (trainSet, validationSet) = try Self.split(
      data.lengths.count, fraction: options.validationFraction, seed: options.seed)
    let perStep = options.microBatch * options.accumulation
    let stepsPerEpoch = max(1, (trainSet.count + perStep - 1) / perStep)
    let totalSteps = stepsPerEpoch * options.epochs
    let schedule = LearningRateSchedule(
      peak: options.learningRate, minimum: options.minimumLearningRate,
      warmupSteps: Int((Double(totalSteps) * options.warmupFraction).rounded(.up)),
      totalSteps: totalSteps)
    let validateEvery =
      options.validateEvery > 0 ? options.validateEvery : max(1, totalSteps / 10)
    let stages = allStages
    let optimizers = stages.map {
      AdamW(parameters: $0.trainable, weightDecay: options.weightDecay)
    }

    let plain = objective.reportsPlainRemoval ? try evaluate(validationSet, identity: true) : nil
    let initial = try evaluate(validationSet)
    var best = initial
    var bestStep = 0
    let trainable = self.trainable
    var bestWeights = trainable.map { $0.copy() }
    var curve = [
      TrainingReport.Point(step: 0, loss: nil, validation: initial, learningRate: 0)
    ]
    var generator = SplitMix(seed: options.seed)
    let start = Date()
    var tokens = 0
    var step = 0
    for _ in 0..<options.epochs {
      var order = trainSet
      generator.shuffle(&order)
      for first in stride(from: 0, to: order.count, by: perStep) {
        let group = Array(order[first..<min(order.count, first + perStep)])
        for stage in stages { stage.gradients.zero() }
        var loss = 0.0
        let micro = stride(from: 0, to: group.count, by: options.microBatch).map {
          Array(group[$0..<min(group.count, $0 + options.microBatch)])
        }
        for part in micro {
          loss += try accumulate(part, scale: 1 / Float(micro.count)) / Double(micro.count)
          tokens += part.reduce(0) { $0 + data.lengths[$1] }
        }
        for stage in stages { stage.adapters?.project() }
        GradientClipping.clip(trainableGradients, maxNorm: options.gradientClip)
        let rate = schedule.rate(at: step)
        for (stage, optimizer) in zip(stages, optimizers) {
          optimizer.step(gradients: stage.trainableGradients, learningRate: rate * stage.rateScale)
          stage.adapters?.merge()
        }
        step += 1
        var validation: Double?
        if step % validateEvery == 0 || step == totalSteps {
          let value = try evaluate(validationSet)
          validation = value
          if value < best {
            best = value
            bestStep = step
            for (kept, current) in zip(bestWeights, trainable) {
              kept.pointer.update(from: current.pointer, count: current.count)
            }
          }
        }
        curve.append(.init(step: step, loss: loss, validation: validation, learningRate: rate))
        let lastValidation = curve.last { $0.validation != nil }?.validation ?? initial
        progress?.update(
          step, of: totalSteps, amount: Double(tokens),
          detail: String(
            format: "loss %.5f · validation %.5f (best %.5f)", loss, lastValidation, best))
      }
    }
    // Keep the best weights seen, the initial ones included.
    for (current, kept) in zip(trainable, bestWeights) {
      current.pointer.update(from: kept.pointer, count: kept.count)
    }
    for stage in stages { stage.adapters?.merge() }
    bestWeights = []
    let seconds = Date().timeIntervalSince(start)
    return TrainingReport(
      options: options, steps: step, trainSequences: trainSet.count,
      validationSequences: validationSet.count,
      tokensPerSecond: Double(tokens) / max(seconds, 1e-9), seconds: seconds,
      plainRemovalValidation: plain, initialValidation: initial, bestValidation: best,
      bestStep: bestStep, curve: curve)
  }
}
