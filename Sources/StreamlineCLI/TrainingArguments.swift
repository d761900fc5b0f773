import ArgumentParser
import Checkpoint
import Foundation
import Models
import Streamline

/// How the replacement is trained.
struct TrainingArguments: ParsableArguments {
  @Option(
    name: .customLong("train-samples"), help: "Calibration sequences that train the replacement.")
  var trainSamples = CalibrationCounts.defaultTraining

  @Option(
    help:
      "Training loss: mse (hidden states), lm (the pruned model's language-model loss) or kd (distillation: KL to the original model's next-token distribution)."
  )
  var loss: TrainingLoss = .kd

  @Option(
    name: .customLong("init"),
    help:
      "Replacement start: first (the block's first layer), linear (that layer with the training-free linear map folded in), merge (similarity-weighted average of the block's layers), auto (the best of them on the validation split)."
  )
  var initialization: ReplacementInit = .auto

  @Option(help: "Passes over the training sequences.")
  var epochs = TrainingOptions().epochs

  @Option(help: "Peak learning rate (AdamW, after warm-up, cosine decay).")
  var lr = TrainingOptions().learningRate

  @Option(name: .customLong("min-lr"), help: "Learning rate at the end of the cosine decay.")
  var minLr = TrainingOptions().minimumLearningRate

  @Option(name: .customLong("weight-decay"), help: "AdamW's decoupled weight decay.")
  var weightDecay = TrainingOptions().weightDecay

  @Option(help: "Share of the steps spent warming up.")
  var warmup = TrainingOptions().warmupFraction

  @Option(help: "Global gradient-norm clip.")
  var clip = TrainingOptions().gradientClip

  @Option(name: .customLong("micro-batch"), help: "Sequences per forward and backward.")
  var microBatch = TrainingOptions().microBatch

  @Option(name: .customLong("grad-accum"), help: "Micro-batches per optimizer step.")
  var gradAccum = TrainingOptions().accumulation

  @Option(name: .customLong("val-fraction"), help: "Share of training sequences held out.")
  var valFraction = TrainingOptions().validationFraction

  @Option(
    name: .customLong("train-tokens"),
    help:
      "Training budget in tokens, instead of --train-samples: this many tokens' worth of sequences, streamed from the calibration source."
  )
  var trainTokens: Int?

  @Option(
    name: .customLong("train-memory"),
    help: "GiB of training states kept in memory before spilling to disk.")
  var trainMemory = CompressionRequest.defaultTrainingMemoryGiB

  @Flag(
    name: .customLong("heal-neighbors"),
    help:
      "Also train the layer before the block and (lm, kd) the layer after it, at --heal-lr-scale times the learning rate."
  )
  var healNeighbors = false

  @Option(
    name: .customLong("heal-lr-scale"),
    help: "The healed neighbours' learning rate as a share of the replacement's.")
  var healLrScale = TrainingOptions().healRateScale

  var options: TrainingOptions {
    var options = TrainingOptions()
    options.loss = loss
    options.initialization = initialization
    options.epochs = epochs
    options.learningRate = lr
    options.minimumLearningRate = minLr
    options.weightDecay = weightDecay
    options.warmupFraction = warmup
    options.gradientClip = clip
    options.microBatch = microBatch
    options.accumulation = gradAccum
    options.validationFraction = valFraction
    options.healNeighbors = healNeighbors
    options.healRateScale = healLrScale
    return options
  }

  /// Training sequences of `seqLen` tokens: --train-tokens' worth, else --train-samples.
  func sequences(seqLen: Int) -> Int {
    trainTokens.map { max(1, $0 / seqLen) } ?? trainSamples
  }

  /// `--train-memory` in bytes (checked, as `--memory-budget`).
  func trainMemoryBytes() throws -> Int {
    try checkingFlags { try Settings.bytes(gibibytes: trainMemory, .trainingMemory) }
  }

  func validate() throws {
    try checkingFlags {
      if let trainTokens {
        // 2^50 tokens: past any data set, and the sequence counts it makes still add up safely.
        try Settings.integer(trainTokens, .trainingTokens, in: 1...(1 << 50))
      }
      try Settings.integer(trainSamples, .trainingSamples, in: 0...Settings.maximumCount)
      try options.validate()
    }
    _ = try trainMemoryBytes()
  }
}
