import Foundation
import Testing

@testable import StreamlineCLI

/// `prune --heal` through the built binary, as a user runs it: the manifest says what healed,
/// on how many sequences of its own, with every validation loss; the held-out evaluation
/// compares the healed model with plain removal of the same layers.
@Suite struct HealCommandTests {
  typealias Scratch = CurveCommandTests.Scratch

  @Test func reverseOrderRemovalThenTheLastLayerHeals() throws {
    let scratch = try Scratch()
    let (status, output, errors) = try CurveCommandTests.run(
      [
        "prune", "demo", "--layers", "last:2", "--replace", "none", "--heal", "last",
        "--heal-layers", "1", "--heal-samples", "4", "--output", "pruned", "--json",
      ] + CurveCommandTests.calibration, in: scratch.url)
    try #require(status == 0, "\(errors)")
    let summary = try CurveCommandTests.json(output)
    // The demo model has 12 layers: last:2 removes 9 and 10, and layer 11 is the last kept.
    #expect(summary["removed_layers"] as? [Int] == [9, 10])
    let manifest = try CurveCommandTests.json(
      try String(contentsOfFile: scratch.path("pruned/streamline.json"), encoding: .utf8))
    let healing = try #require(manifest["healing"] as? [String: Any])
    #expect(healing["scope"] as? String == "last" && healing["layers"] as? [Int] == [11])
    #expect(healing["sequences"] as? Int == 4 && healing["tokens"] as? Int == 4 * 32)
    let training = try #require(healing["training"] as? [String: Any])
    let curve = try #require(training["curve"] as? [[String: Any]])
    #expect(curve.contains { $0["validation"] is Double })
    #expect(summary["healing"] is [String: Any])
    let calibration = try #require(manifest["calibration"] as? [String: Any])
    #expect(calibration["healing_samples"] as? Int == 4)
    let evaluation = try #require(manifest["evaluation"] as? [String: Any])
    #expect(evaluation["plain_removal"] is Double)
  }

  @Test func healingWithOneSequenceIsRefusedBeforeAnyWork() throws {
    let scratch = try Scratch()
    let (status, _, errors) = try CurveCommandTests.run(
      [
        "prune", "demo", "--layers", "last:2", "--replace", "none", "--heal", "lora",
        "--heal-samples", "1", "--output", "pruned",
      ] + CurveCommandTests.calibration, in: scratch.url)
    #expect(status != 0)
    #expect(errors.contains("--heal needs at least 2 sequences of its own"), "\(errors)")
    #expect(!FileManager.default.fileExists(atPath: scratch.path("pruned")))
  }
}
