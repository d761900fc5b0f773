import Evaluation
import Foundation
import Testing

/// Stability from two predictions files equals the paper's definition computed with NumPy.
@Suite struct StabilityTests {
  @Test(arguments: ["llama-pruned", "qwen2"])
  func matchesNumPy(compressed name: String) throws {
    let original = try PredictionsFile.read(path: EvalFixtures.predictions("llama"))
    let compressed = try PredictionsFile.read(path: EvalFixtures.predictions(name))
    let results = try StabilityResult.compare(
      original: original, originalPath: "a", compressed: compressed, compressedPath: "b")
    let reference =
      (EvalFixtures.reference["stability"] as! [String: Any])[name] as! [String: [String: Any]]
    #expect(results.map(\.task) == EvalFixtures.tasks)
    for r in results {
      let ref = reference[r.task]!
      #expect(abs(r.stability - ref.double("stability")) < 1e-12, "\(r.task)")
      #expect(r.agreement == ref.double("agreement"), "\(r.task)")
      #expect(r.consistent == ref.double("consistent"), "\(r.task)")
      #expect(r.originalAcc == ref.double("original_acc"), "\(r.task)")
      #expect(r.compressedAcc == ref.double("compressed_acc"), "\(r.task)")
      #expect(r.items == ref.int("items"))
    }
  }

  /// Each item weighted by its own weight: a hand-made case where summing the first m weights
  /// (the reference script's bug) gives a different answer.
  @Test func eachItemWeighsItsOwnWeight() {
    func p(_ index: Int, _ lls: [Double], _ label: Int, pred: Int) -> Prediction {
      let score = ItemScore(
        index: index, label: label,
        loglikelihoods: lls.enumerated().map { $0.offset == pred ? $0.element + 100 : $0.element },
        tokens: Array(repeating: 1, count: lls.count),
        lengths: Array(repeating: 1, count: lls.count))
      return Prediction(task: "t", score: score, context: nil, choices: nil)
    }
    // Spreads (population std of per-token NLL): item 0 small, item 1 large.
    let original = [p(0, [-1, -1.2], 0, pred: 0), p(1, [-1, -5], 0, pred: 0)]
    let compressed = [p(0, [-1, -1.2], 0, pred: 1), p(1, [-1, -5], 0, pred: 0)]
    let r = StabilityResult(task: "t", original: original, compressed: compressed)
    // Original lls after the +100 shift: item 0 [99, -1.2], item 1 [99, -5].
    let s0 = 100.2 / 2
    let s1 = 104.0 / 2
    let w1 = exp(s1) / (exp(s0) + exp(s1))
    #expect(abs(r.stability - w1) < 1e-12)
    #expect(r.agreement == 0.5)
    #expect(r.originalAcc == 1 && r.compressedAcc == 0.5)
  }

  @Test func mismatchedFilesAreRefused() throws {
    let original = try PredictionsFile.read(path: EvalFixtures.predictions("llama"))
    let compressed = Array(
      try PredictionsFile.read(path: EvalFixtures.predictions("llama-pruned")).dropLast())
    #expect(throws: EvaluationError.self) {
      try StabilityResult.compare(
        original: original, originalPath: "orig.jsonl", compressed: compressed,
        compressedPath: "comp.jsonl")
    }
  }

  @Test func predictionsRoundTrip() throws {
    let original = try PredictionsFile.read(path: EvalFixtures.predictions("llama"))
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "streamline-pred-\(UUID().uuidString).jsonl"
    ).path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try PredictionsFile.write(original, path: path)
    #expect(try PredictionsFile.read(path: path) == original)
  }
}
