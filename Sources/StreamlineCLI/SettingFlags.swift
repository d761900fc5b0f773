import ArgumentParser
import Streamline

/// The command line's name for each of the library's numeric settings.
extension NumericSetting {
  var flag: String {
    switch self {
    case .epochs: return "--epochs"
    case .learningRate: return "--lr"
    case .minimumLearningRate: return "--min-lr"
    case .weightDecay: return "--weight-decay"
    case .warmupFraction: return "--warmup"
    case .gradientClip: return "--clip"
    case .microBatch: return "--micro-batch"
    case .accumulation: return "--grad-accum"
    case .validationFraction: return "--val-fraction"
    case .validateEvery: return "(validate every)"
    case .healRateScale: return "--heal-lr-scale"
    case .frozenActivationBytes: return "(frozen activation bytes)"
    case .frozenWeightBytes: return "(frozen weight bytes)"
    case .memoryBudget: return "--memory-budget"
    case .trainingMemory: return "--train-memory"
    case .sparsity: return "--sparsity"
    case .layers: return "--remove"
    case .scoringSamples: return "--samples"
    case .evaluationSamples: return "--eval-samples"
    case .trainingSamples: return "--train-samples"
    case .trainingTokens: return "--train-tokens"
    case .sequenceLength: return "--seq-len"
    case .blocks: return "--blocks"
    case .candidates: return "--candidates"
    case .healingSamples: return "--heal-samples"
    case .healingTokens: return "--heal-tokens"
    case .healingLayers: return "--heal-layers"
    case .healingLearningRate: return "--heal-lr"
    case .adapterRank: return "--heal-rank"
    case .adapterAlpha: return "--heal-alpha"
    }
  }
}

/// Runs the library's checks, wording a refused setting with its flag (for `validate()`, so
/// that nothing runs).
@discardableResult
func checkingFlags<T>(_ body: () throws -> T) throws -> T {
  do {
    return try body()
  } catch let error as SettingError {
    throw ValidationError("\(error.setting.flag) \(error.value): must be \(error.requirement)")
  }
}

/// A command-line-only count (no library setting behind it) in `range`.
func checkCount(_ value: Int, _ flag: String, in range: ClosedRange<Int>) throws {
  guard range.contains(value) else {
    throw ValidationError(
      "\(flag) \(value): must be at least \(range.lowerBound) and at most \(range.upperBound)")
  }
}
