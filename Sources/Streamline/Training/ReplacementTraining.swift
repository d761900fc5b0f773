import Foundation
import Models
import Tensors

/// Settings of replacement training; defaults from the design notes.
public struct TrainingOptions: Codable, Sendable {
  /// Distillation by default: on a real pretrained model the hidden-state MSE recovered 5% of
  /// the lost log-perplexity where the training-free map recovered 43% (issue 11); a loss on the
  /// model's own output is what perplexity measures (README, "Defaults, measured").
  public var loss = TrainingLoss.kd
  public var epochs = 1
  /// Five times the reference's 2e-4: with a CPU's budget (15 steps) it wins on a real model
  /// (SmolLM2-135M prose, 7 layers fewer: 58% of the lost log-perplexity recovered at 2e-4,
  /// 66% at 1e-3; README, "Defaults, measured").
  public var learningRate = 1e-3
  public var minimumLearningRate = 1e-4
  public var weightDecay = 1e-3
  /// Share of the optimizer steps spent warming up.
  public var warmupFraction = 0.05
  public var gradientClip = 5.0
  /// Sequences per forward/backward (and per optimizer step, times `accumulation`). One: the
  /// same tokens in four times the steps; on a real model it beat four on both domains
  /// (SmolLM2-135M, 7 layers fewer: 66% → 70% of the lost log-perplexity recovered on prose,
  /// 59% → 63% on code; README, "Defaults, measured").
  public var microBatch = 1
  /// Micro-batches per optimizer step.
  public var accumulation = 1
  /// Share of the training sequences held out for validation.
  public var validationFraction = 0.1
  /// Validate every this many optimizer steps (0: ten times over the run).
  public var validateEvery = 0
  public var seed: UInt64 = 0
  /// Where the replacement layer starts from: by default the best of first/linear/merge on the
  /// validation split, so training starts no worse than the training-free linear map.
  public var initialization = ReplacementInit.auto
  /// Bytes of the frozen layers' activations kept between forward and backward (lm, kd) per
  /// micro-batch; beyond it they are recomputed from each layer's input (a third more work).
  public var frozenActivationBytes = 2 << 30
  /// Bytes of the frozen layers' Float32 weights (lm, kd) held in memory; beyond it each layer
  /// is read from the checkpoint whenever it runs, so memory stays one layer's, whatever the
  /// depth above the block.
  public var frozenWeightBytes = 4 << 30
  /// Also trains the layers next to the block (the one before it, and for `lm` and `kd` the one
  /// after it), at `healRateScale` times the replacement's learning rate.
  public var healNeighbors = false
  public var healRateScale = 0.1
  /// The learning rate of an earlier replacement that trains again in a later step of
  /// compensated removal, as a share of the new one's: it starts trained and only follows its
  /// changed inputs. On Gemma 3 270M, 6 layers in 2 blocks, 64 training sequences, retraining
  /// the first block's layer at 0.3 took the second step's validation KL from 1.765 to 1.691
  /// and held-out perplexity from 80.55 / 56.59 to 79.18 / 51.21 (prose / code); on the demo
  /// model it recovered 48.9% where 0.1 gave 48.1%, 1 gave 46.1% and not retraining 47.1%.
  public var retrainRateScale = 0.3

  public init() {}

  enum CodingKeys: String, CodingKey {
    case loss, epochs, seed
    case learningRate = "learning_rate"
    case minimumLearningRate = "min_learning_rate"
    case weightDecay = "weight_decay"
    case warmupFraction = "warmup_fraction"
    case gradientClip = "gradient_clip"
    case microBatch = "micro_batch"
    case accumulation = "gradient_accumulation"
    case validationFraction = "val_fraction"
    case validateEvery = "validate_every"
    case initialization = "init"
    case frozenActivationBytes = "frozen_activation_bytes"
    case frozenWeightBytes = "frozen_weight_bytes"
    case healNeighbors = "heal_neighbors"
    case healRateScale = "heal_lr_scale"
    case retrainRateScale = "retrain_lr_scale"
  }
}

/// What training did: the loss curve and the validation losses that matter.
public struct TrainingReport: Codable, Sendable {
  public struct Point: Codable, Sendable {
    public let step: Int
    public let loss: Double?
    public let validation: Double?
    public let learningRate: Double

    enum CodingKeys: String, CodingKey {
      case step, loss, validation
      case learningRate = "learning_rate"
    }
  }

  public let options: TrainingOptions
  public let steps: Int
  public let trainSequences: Int
  public let validationSequences: Int
  public let tokensPerSecond: Double
  public let seconds: Double
  /// Validation loss of the identity (plain removal), for MSE training.
  public let plainRemovalValidation: Double?
  public let initialValidation: Double
  public let bestValidation: Double
  /// 0 when the initial weights were never beaten (and are what was kept).
  public let bestStep: Int
  public let curve: [Point]
  /// The initialisation chosen and each candidate's validation loss (set by `Compression`).
  public var initialization: InitializationReport?
  /// Source layers next to the block trained with it (`--heal-neighbors`; set by `Compression`).
  public var healedLayers: [Int]?
  /// Layers above the block trained with it: the earlier replacements of compensated removal,
  /// numbered as in the model the step pruned.
  public var trainedAbove: [Int]?

  enum CodingKeys: String, CodingKey {
    case options, steps, seconds, curve
    case trainSequences = "train_sequences"
    case validationSequences = "validation_sequences"
    case tokensPerSecond = "tokens_per_second"
    case plainRemovalValidation = "plain_removal_validation"
    case initialValidation = "initial_validation"
    case bestValidation = "best_validation"
    case bestStep = "best_step"
    case initialization
    case healedLayers = "healed_layers"
    case trainedAbove = "trained_above"
  }
}

/// Training pairs: the input state h_i of every training sequence, and either the target state
/// h_i+k (MSE) or the tokens (language-model loss). Rows are sequences laid end to end.
public struct TrainingData {
  public let lengths: [Int]
  public let inputs: UnsafePointer<Float>  // [rows, C]
  public let targets: UnsafePointer<Float>?  // [rows, C]
  public let tokens: [[Int]]
  public let width: Int
  /// The original model's final residual state h_L of every row (distillation's teacher).
  public let teacher: UnsafePointer<Float>?  // [rows, C]
  /// The state before the layer ahead of the block, h_start−1: the input when that layer heals.
  public let preceding: UnsafePointer<Float>?  // [rows, C]

  public init(
    lengths: [Int], inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>?,
    tokens: [[Int]], width: Int, teacher: UnsafePointer<Float>? = nil,
    preceding: UnsafePointer<Float>? = nil
  ) {
    self.lengths = lengths
    self.inputs = inputs
    self.targets = targets
    self.tokens = tokens
    self.width = width
    self.teacher = teacher
    self.preceding = preceding
  }

  var offsets: [Int] { lengths.reduce(into: [0]) { $0.append($0.last! + $1) } }
}

/// The frozen rest of the model above the replacement, for the language-model loss: the
/// layers after the block and the model's head, all of them backpropagated through.
///
/// The layers are held in memory, or read from the checkpoint each time they run, so that
/// training a large model's replacement holds one frozen layer's weights rather than the depth
/// above the block (an 8B model's 24 layers are 21 GB in Float32); converting a layer from the
/// memory map costs far less than the products it then runs over a micro-batch.
public struct FrozenTop {
  /// Layers after the block.
  public let count: Int
  let resident: [any DecoderLayer]?
  let load: ((Int) throws -> any DecoderLayer)?
  public let head: any LanguageModelHead
  /// The head that computes distillation's teacher logits (forward only, so it may hold bf16
  /// weights); `head` when nil.
  public let teacherHead: (any LanguageModelHead)?

  /// Layers held in memory.
  public init(
    layers: [any DecoderLayer], head: any LanguageModelHead,
    teacherHead: (any LanguageModelHead)? = nil
  ) {
    count = layers.count
    resident = layers
    load = nil
    self.head = head
    self.teacherHead = teacherHead
  }

  /// `count` layers read by `load(i)` (0 the lowest) whenever they run.
  public init(
    count: Int, load: @escaping (Int) throws -> any DecoderLayer, head: any LanguageModelHead,
    teacherHead: (any LanguageModelHead)? = nil
  ) {
    self.count = count
    resident = nil
    self.load = load
    self.head = head
    self.teacherHead = teacherHead
  }

  public var isStreamed: Bool { resident == nil }

  /// Layer `i` above the block (0 the lowest).
  public func layer(_ i: Int) throws -> any DecoderLayer {
    if let resident { return resident[i] }
    return try load!(i)
  }
}

/// The layers next to the block that train with the replacement (`--heal-neighbors`), at a
/// smaller learning rate: `before` runs on h_start−1 ahead of it, `after` is the first layer
/// above the block, taken out of the frozen top (so only with `lm` and `kd`).
public struct HealedNeighbors {
  public let before: (any DecoderLayer)?
  public let after: (any DecoderLayer)?
  public let rateScale: Double

  public init(before: (any DecoderLayer)?, after: (any DecoderLayer)?, rateScale: Double) {
    self.before = before
    self.after = after
    self.rateScale = rateScale
  }
}

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
