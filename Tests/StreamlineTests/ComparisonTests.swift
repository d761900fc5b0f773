import Evaluation
import Foundation
import Models
import Testing

@testable import Streamline

/// `compare`'s table and report, on the evaluation fixtures' model and its pruned copy.
@Suite struct ComparisonTests {
  @Test func reportHoldsEveryNumberAUserNeeds() throws {
    let models = Fixtures.root.appendingPathComponent("eval/models")
    let task = try TaskFile.read(
      path: Fixtures.root.appendingPathComponent("eval/tasks/piqa.jsonl").path)
    func run(_ name: String) throws -> (ModelFacts, TaskScore) {
      let url = models.appendingPathComponent(name)
      let model = try DecoderModel(url: url, residentWeights: true)
      let scorer = MultipleChoiceScorer(model: model, encoder: try RequestEncoder(modelFolder: url))
      return (try ModelFacts(model: model, speedTokens: 16), try scorer.score(task, limit: nil))
    }
    let (originalFacts, originalScore) = try run("llama")
    let (compressedFacts, compressedScore) = try run("llama-pruned")
    var comparison = Comparison(original: originalFacts, compressed: compressedFacts)
    let row = Comparison.TaskRow(
      original: TaskReport(originalScore, file: task.path, seconds: 1),
      compressed: TaskReport(compressedScore, file: task.path, seconds: 1),
      stability: StabilityResult(
        task: task.name, original: PredictionsFile.lines([originalScore]),
        compressed: PredictionsFile.lines([compressedScore])))
    comparison.tasks.append(row)

    #expect(comparison.original.layers - comparison.compressed.layers == 1)
    #expect(comparison.compressed.parameters < comparison.original.parameters)
    // Relative accuracy is compressed / original, undefined (NaN) when the original scores 0.
    if row.original.acc > 0 {
      #expect(row.relativeAcc == row.compressed.acc / row.original.acc)
    } else {
      #expect(row.relativeAcc.isNaN)
    }
    #expect((0...1).contains(row.stability.stability))
    let labels = comparison.rows.map(\.0)
    for label in ["layers", "parameters", "size on disk", "forward tokens/s", "piqa acc"] {
      #expect(labels.contains(label), "the table has a \(label) row")
    }

    let folder = Fixtures.temporary("compare")
    defer { try? FileManager.default.removeItem(at: folder) }
    try comparison.write(to: folder)
    let json =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: folder.appendingPathComponent("comparison.json"))) as! [String: Any]
    #expect((json["tasks"] as? [[String: Any]])?.count == 1)
    let markdown = try String(
      contentsOf: folder.appendingPathComponent("comparison.md"), encoding: .utf8)
    #expect(markdown.contains("piqa"))
    let chart = try String(
      contentsOf: folder.appendingPathComponent("comparison.svg"), encoding: .utf8)
    #expect(chart.hasPrefix("<svg") && chart.contains("piqa"))
  }
}
