/// The numeric settings of the library's requests, by name, so that the command line can word
/// a refusal with its own flag (`learningRate` is `--lr` there).
public enum NumericSetting: String, Sendable, CaseIterable {
  case epochs, learningRate, minimumLearningRate, weightDecay, warmupFraction, gradientClip
  case microBatch, accumulation, validationFraction, validateEvery, healRateScale
  case frozenActivationBytes, frozenWeightBytes
  case memoryBudget, trainingMemory
  case sparsity, layers
  case scoringSamples, evaluationSamples, trainingSamples, trainingTokens, sequenceLength, blocks,
    candidates
  case healingSamples, healingTokens, healingLayers, healingLearningRate, adapterRank, adapterAlpha
}
