/// Checks shared by every numeric setting.
public enum Settings {
  /// Sequence counts: each sequence adds at least one token to sums that hold fewer than
  /// 2^31, and the counts are added together, so anything past this is a typo, not a request.
  public static let maximumCount = Int(Int32.max)
  /// Memory budgets in GiB: 1 PiB, far beyond any machine and far below `Int.max` bytes.
  public static let maximumGiB = 1 << 20

  /// `value` unless it is NaN, infinite or outside `range`.
  @discardableResult
  public static func finite(_ value: Double, _ setting: NumericSetting, in range: Range<Double>)
    throws -> Double
  {
    guard value.isFinite, range.contains(value) else {
      throw SettingError(
        setting, "\(value)",
        "a finite number in [\(short(range.lowerBound)), \(short(range.upperBound)))")
    }
    return value
  }

  /// `value` unless it is NaN, infinite or not above `lowerBound` (`strictly`) or at least it.
  @discardableResult
  public static func finite(
    _ value: Double, _ setting: NumericSetting, above lowerBound: Double, strictly: Bool = true
  )
    throws -> Double
  {
    guard value.isFinite, strictly ? value > lowerBound : value >= lowerBound else {
      throw SettingError(
        setting, "\(value)", "a finite number \(strictly ? ">" : "≥") \(short(lowerBound))")
    }
    return value
  }

  /// A bound as people write it: 0, 1, 0.5.
  static func short(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
  }

  /// `value` unless it lies outside `range`.
  @discardableResult
  public static func integer(_ value: Int, _ setting: NumericSetting, in range: ClosedRange<Int>)
    throws -> Int
  {
    guard range.contains(value) else {
      let upper = range.upperBound == Int.max ? "" : " and at most \(range.upperBound)"
      throw SettingError(setting, "\(value)", "at least \(range.lowerBound)\(upper)")
    }
    return value
  }

  /// `gibibytes` GiB as bytes: positive, finite, and at most `maximumGiB`, so the conversion to
  /// `Int` can neither trap (NaN, infinity, 1e10 GiB) nor go negative.
  public static func bytes(gibibytes: Double, _ setting: NumericSetting) throws -> Int {
    guard gibibytes.isFinite, gibibytes > 0, gibibytes <= Double(maximumGiB) else {
      throw SettingError(
        setting, "\(gibibytes)", "a finite number of GiB > 0 and at most \(maximumGiB)")
    }
    // At least one byte: a budget that rounds to nothing still means "as little as possible".
    return max(1, Int(gibibytes * Double(1 << 30)))
  }
}

extension TrainingOptions {
  /// Every field in its range: called before any work, so that `--lr inf` or `--weight-decay
  /// nan` is refused at once instead of failing the run at its end.
  public func validate() throws {
    try Settings.integer(epochs, .epochs, in: 1...1_000_000)
    try Settings.finite(learningRate, .learningRate, above: 0)
    try Settings.finite(minimumLearningRate, .minimumLearningRate, above: 0, strictly: false)
    try Settings.finite(weightDecay, .weightDecay, above: 0, strictly: false)
    try Settings.finite(warmupFraction, .warmupFraction, in: 0..<1)
    try Settings.finite(gradientClip, .gradientClip, above: 0)
    try Settings.integer(microBatch, .microBatch, in: 1...Settings.maximumCount)
    try Settings.integer(accumulation, .accumulation, in: 1...Settings.maximumCount)
    try Settings.finite(validationFraction, .validationFraction, in: 0..<1)
    try Settings.integer(validateEvery, .validateEvery, in: 0...Int.max)
    try Settings.finite(healRateScale, .healRateScale, above: 0)
    try Settings.integer(frozenActivationBytes, .frozenActivationBytes, in: 0...Int.max)
    try Settings.integer(frozenWeightBytes, .frozenWeightBytes, in: 0...Int.max)
  }
}

extension HealingOptions {
  /// Healing's own numbers; the optimizer's others are the replacement training's, checked
  /// there.
  public func validate() throws {
    try Settings.integer(lastLayers, .healingLayers, in: 1...Settings.maximumCount)
    try Settings.integer(adapters.rank, .adapterRank, in: 1...Settings.maximumCount)
    try Settings.finite(adapters.alpha, .adapterAlpha, above: 0)
    try Settings.finite(training.learningRate, .healingLearningRate, above: 0)
  }
}

extension RemovalRequest {
  /// A layer count of at least one, or a sparsity strictly between 0 and 1 (NaN is neither).
  public func validate() throws {
    switch self {
    case .layers(let n): try Settings.integer(n, .layers, in: 1...Int.max)
    case .sparsity(let s):
      guard s.isFinite, s > 0, s < 1 else {
        throw SettingError(.sparsity, "\(s)", "a finite number strictly between 0 and 1")
      }
    }
  }
}

extension CompressionRequest {
  /// The request's numbers, checked before any work (the command line checks the same in its
  /// `validate()`, with its flag names).
  public func validate() throws {
    try removal?.validate()
    try training.validate()
    try Settings.integer(scoringSamples, .scoringSamples, in: 0...Settings.maximumCount)
    try Settings.integer(memoryBudget, .memoryBudget, in: 1...Int.max)
    try Settings.integer(trainingMemory, .trainingMemory, in: 1...Int.max)
    try Settings.integer(blocks, .blocks, in: 1...Settings.maximumCount)
    try Settings.integer(candidates, .candidates, in: 1...Settings.maximumCount)
    try healing?.validate()
  }
}
