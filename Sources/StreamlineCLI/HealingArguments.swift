import ArgumentParser
import Streamline

extension HealScope: ExpressibleByArgument {}

/// Whether and how the whole pruned model heals after the replacement.
struct HealingArguments: ParsableArguments {
  @Option(
    help:
      "Heal the pruned model by distillation from the original after the replacement, training: lora (low-rank adapters on every layer, merged into the weights), last (the last --heal-layers layers) or all (every layer)."
  )
  var heal: HealScope?

  @Option(
    name: .customLong("heal-samples"),
    help: "Calibration sequences of their own that healing trains on.")
  var healSamples = CalibrationCounts.defaultHealing

  @Option(
    name: .customLong("heal-tokens"),
    help:
      "Healing budget in tokens, instead of --heal-samples: this many tokens' worth of sequences.")
  var healTokens: Int?

  @Option(name: .customLong("heal-layers"), help: "Layers --heal last trains, from the top.")
  var healLayers = HealingOptions().lastLayers

  @Option(name: .customLong("heal-rank"), help: "Rank of --heal lora's adapters.")
  var healRank = AdapterSettings().rank

  @Option(
    name: .customLong("heal-alpha"),
    help: "Scale of --heal lora's adapters: they add (alpha / rank)·B·A.")
  var healAlpha = AdapterSettings().alpha

  @Option(
    name: .customLong("heal-lr"),
    help: "Healing's peak learning rate (default 1e-3 for lora, 1e-4 for last and all).")
  var healLr: Double?

  /// Healing as asked, its optimizer otherwise set as the replacement's (`training`); nil
  /// without `--heal`.
  func options(training: TrainingOptions) -> HealingOptions? {
    guard let heal else { return nil }
    var options = HealingOptions(scope: heal)
    let rate = healLr ?? options.training.learningRate
    options.training = training
    options.training.loss = .kd
    options.training.learningRate = rate
    options.training.minimumLearningRate = rate / 10
    options.training.retrainRateScale = 1
    options.training.healNeighbors = false
    options.lastLayers = healLayers
    options.adapters = AdapterSettings(rank: healRank, alpha: healAlpha)
    return options
  }

  func validate() throws {
    try checkingFlags {
      if let healTokens { try Settings.integer(healTokens, .healingTokens, in: 1...(1 << 50)) }
      try Settings.integer(healSamples, .healingSamples, in: 0...Settings.maximumCount)
      try options(training: TrainingOptions())?.validate()
    }
  }
}
