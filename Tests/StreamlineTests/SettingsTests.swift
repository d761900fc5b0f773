import Foundation
import Tensors
import Testing

@testable import Evaluation
@testable import Streamline

/// Numeric settings are checked before any work, and numbers that are not finite never make
/// JSON output fail.
@Suite struct SettingsTests {
  @Test(arguments: [Double.nan, .infinity, -.infinity, 1e10, -1, 0])
  func memoryBudgetsMustBeFinitePositiveAndFitAnInteger(_ gib: Double) {
    #expect(throws: SettingError.self) { _ = try Settings.bytes(gibibytes: gib, .memoryBudget) }
  }

  @Test func memoryBudgetsConvert() throws {
    #expect(try Settings.bytes(gibibytes: 8, .memoryBudget) == 8 << 30)
    #expect(try Settings.bytes(gibibytes: 0.5, .trainingMemory) == 1 << 29)
  }

  static let hostileTraining: [(NumericSetting, (inout TrainingOptions) -> Void)] = [
    (.learningRate, { $0.learningRate = .infinity }),
    (.learningRate, { $0.learningRate = .nan }),
    (.learningRate, { $0.learningRate = 0 }),
    (.minimumLearningRate, { $0.minimumLearningRate = -1 }),
    (.weightDecay, { $0.weightDecay = .nan }),
    (.weightDecay, { $0.weightDecay = -0.1 }),
    (.gradientClip, { $0.gradientClip = .infinity }),
    (.warmupFraction, { $0.warmupFraction = 1 }),
    (.validationFraction, { $0.validationFraction = .nan }),
    (.healRateScale, { $0.healRateScale = .infinity }),
    (.epochs, { $0.epochs = 0 }),
    (.microBatch, { $0.microBatch = -1 }),
    (.accumulation, { $0.accumulation = 0 }),
  ]

  @Test(arguments: 0..<hostileTraining.count)
  func trainingOptionsAreChecked(_ index: Int) {
    let (setting, change) = Self.hostileTraining[index]
    var options = TrainingOptions()
    change(&options)
    let error = #expect(throws: SettingError.self) { try options.validate() }
    #expect(error?.setting == setting)
  }

  @Test func defaultsPass() throws {
    try TrainingOptions().validate()
    try CompressionRequest().validate()
  }

  @Test func removalRequestsAreChecked() throws {
    for bad in [
      RemovalRequest.sparsity(.nan), .sparsity(0), .sparsity(1), .sparsity(.infinity),
      .layers(0), .layers(-2),
    ] {
      #expect(throws: SettingError.self) { try bad.validate() }
    }
    try RemovalRequest.sparsity(0.25).validate()
    try RemovalRequest.layers(2).validate()
  }

  /// Plain removal that changes nothing leaves no loss to recover: the share is undefined, said
  /// so in text and written as null, never as a failing `inf`.
  @Test func anUndefinedRecoveredShareIsNull() throws {
    #expect(HeldOutEvaluation.recoveredShare(original: 7, plainRemoval: 7, pruned: 7) == nil)
    #expect(HeldOutEvaluation.recoveredShare(original: 7, plainRemoval: .nan, pruned: 7) == nil)
    let evaluation = HeldOutEvaluation(
      sequences: 1, tokens: 3, original: 7, pruned: .infinity, plainRemoval: 7, recovered: nil)
    let json = try Format.json(evaluation)
    #expect(json.contains("\"recovered\" : null"), "\(json)")
    #expect(json.contains("\"pruned\" : null"), "\(json)")
    #expect(evaluation.text.contains("recovered undefined"))
    let plain = HeldOutEvaluation(
      sequences: 1, tokens: 3, original: 7, pruned: 8, plainRemoval: nil, recovered: nil)
    #expect(!(try Format.json(plain)).contains("recovered"))
  }

  @Test func jsonWritesNonFiniteNumbersAsNull() throws {
    #expect(
      try Format.json([1.5, .nan, .infinity, -.infinity])
        == "[\n  1.5,\n  null,\n  null,\n  null\n]")
    let manifest = String(
      decoding: try Surgery.json(
        ["a": Double.nan, "b": [Double.infinity, 2.0], "c": true] as [String: Any]),
      as: UTF8.self)
    #expect(
      manifest.contains("\"a\" : null") && manifest.contains("null,") && manifest.contains("true"),
      "\(manifest)")
  }

  /// A NaN or infinite residual state is refused (naming the layer in `measureSums`), never
  /// scored as an arbitrary cosine.
  @Test func nonFiniteStatesAreNotNormalized() {
    let x = Tensor(zeros: [2, 3])
    x.row(1)[2] = .nan
    #expect(Similarity.normalizedRows(x, rows: 1) != nil)
    #expect(Similarity.normalizedRows(x, rows: 2) == nil)
    x.row(1)[2] = .infinity
    #expect(Similarity.normalizedRows(x, rows: 2) == nil)
  }
}
