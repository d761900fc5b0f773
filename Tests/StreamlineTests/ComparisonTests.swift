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

  static let models = Fixtures.root.appendingPathComponent("eval/models")
  static let tasks = Fixtures.root.appendingPathComponent("eval/tasks")

  /// `name`'s scores of `task` with its report.
  func score(_ name: String, _ task: TaskFile, limit: Int? = nil) throws -> (
    TaskScore, TaskReport
  ) {
    let url = Self.models.appendingPathComponent(name)
    let model = try DecoderModel(url: url, residentWeights: true)
    let scorer = MultipleChoiceScorer(model: model, encoder: try RequestEncoder(modelFolder: url))
    let score = try scorer.score(task, limit: limit)
    return (score, TaskReport(score, file: task.path, seconds: 1))
  }

  func facts(_ name: String) throws -> ModelFacts {
    try ModelFacts(
      model: try DecoderModel(url: Self.models.appendingPathComponent(name)), speedTokens: 8)
  }

  /// `add` pairs both models' scores of each task: the row with its stability, and both
  /// predictions files in the report, which `streamline stability` reads back to the same rows.
  @Test func pairedTasksGiveRowsAndBothPredictionsFiles() throws {
    var comparison = Comparison(original: try facts("llama"), compressed: try facts("llama-pruned"))
    var items = 0
    for name in ["piqa", "hellaswag"] {
      let task = try TaskFile.read(path: Self.tasks.appendingPathComponent("\(name).jsonl").path)
      let (a, ra) = try score("llama", task)
      let (b, rb) = try score("llama-pruned", task)
      try comparison.add(original: a, ra, compressed: b, rb)
      items += a.items.count
      let row = try #require(comparison.tasks.last)
      #expect(row.task == name && row.items == a.items.count)
      #expect(row.original.acc == ra.acc && row.compressed.acc == rb.acc)
      #expect(
        row.stability
          == StabilityResult(
            task: name, original: PredictionsFile.lines([a]),
            compressed: PredictionsFile.lines([b])))
    }
    #expect(comparison.tasks.map(\.task) == ["piqa", "hellaswag"])
    #expect(comparison.originalPredictions.count == items)
    #expect(comparison.compressedPredictions.count == items)
    #expect(comparison.originalPredictions.map(\.task).first == "piqa")

    let folder = Fixtures.temporary("compare-pairs")
    defer { try? FileManager.default.removeItem(at: folder) }
    try comparison.write(to: folder)
    let originalFile = folder.appendingPathComponent(Comparison.originalPredictionsFile).path
    let compressedFile = folder.appendingPathComponent(Comparison.compressedPredictionsFile).path
    #expect(originalFile.hasSuffix("/original.predictions.jsonl"))
    #expect(compressedFile.hasSuffix("/compressed.predictions.jsonl"))
    let original = try PredictionsFile.read(path: originalFile)
    let compressed = try PredictionsFile.read(path: compressedFile)
    #expect(original == comparison.originalPredictions)
    #expect(compressed == comparison.compressedPredictions)
    let results = try StabilityResult.compare(
      original: original, originalPath: originalFile, compressed: compressed,
      compressedPath: compressedFile)
    #expect(results == comparison.tasks.map(\.stability))
    // comparison.json keeps its keys; the predictions are files of their own.
    let json =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: folder.appendingPathComponent("comparison.json"))) as! [String: Any]
    #expect(Set(json.keys) == ["original", "compressed", "tasks"])

    // Without paired tasks there are no predictions files.
    let bare = Fixtures.temporary("compare-bare")
    defer { try? FileManager.default.removeItem(at: bare) }
    try Comparison(original: comparison.original, compressed: comparison.compressed)
      .write(to: bare)
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: bare.path).sorted() == [
        "comparison.json", "comparison.md", "comparison.svg",
      ])
  }

  /// Scores that do not pair are refused with one line naming the task file, not a crash.
  @Test func scoresThatDoNotPairAreRefused() throws {
    let piqa = try TaskFile.read(path: Self.tasks.appendingPathComponent("piqa.jsonl").path)
    let hellaswag = try TaskFile.read(
      path: Self.tasks.appendingPathComponent("hellaswag.jsonl").path)
    let (a, ra) = try score("llama", piqa)
    var comparison = Comparison(original: try facts("llama"), compressed: try facts("llama"))
    func refusal(_ b: TaskScore, _ rb: TaskReport, original: TaskScore? = nil) -> String? {
      Fixtures.message { try comparison.add(original: original ?? a, ra, compressed: b, rb) }
    }

    let (fewer, rFewer) = try score("llama-pruned", piqa, limit: 2)
    #expect(
      refusal(fewer, rFewer)
        == "\(piqa.path): task piqa: the original scored \(a.items.count) items, the compressed model 2"
    )
    let (other, rOther) = try score("llama-pruned", hellaswag)
    #expect(
      refusal(other, rOther)
        == "\(piqa.path): the original's scores are of task piqa, the compressed model's of hellaswag"
    )
    var relabelled = a
    relabelled.items[1].label = (a.items[1].label + 1) % a.items[1].tokens.count
    #expect(
      refusal(relabelled, ra)
        == "\(piqa.path): task piqa item \(a.items[1].index) has a different index, label or number of choices in the compressed model's scores"
    )
    var empty = a
    empty.items = []
    #expect(
      refusal(empty, ra, original: empty) == "\(piqa.path): task piqa has no scored items")
    for message in [refusal(fewer, rFewer), refusal(other, rOther), refusal(relabelled, ra)] {
      #expect(message?.contains("\n") == false)
    }
    // Nothing was added by a refusal.
    #expect(comparison.tasks.isEmpty && comparison.originalPredictions.isEmpty)
    try comparison.add(original: a, ra, compressed: a, ra)
    #expect(comparison.tasks.count == 1 && comparison.tasks[0].stability.stability == 1)
  }

  /// Each folder's own tokenizer; a compressed folder without one borrows the original's.
  @Test func compressedFolderWithoutATokenizerBorrowsTheOriginals() throws {
    let original = Self.models.appendingPathComponent("llama")
    let own = try Comparison.encoders(
      original: original, compressed: Self.models.appendingPathComponent("qwen2"))
    #expect(own.compressed.tokenizer !== own.original.tokenizer)
    #expect(own.compressed.tokenizer.path != own.original.tokenizer.path)

    let bare = Fixtures.temporary("compare-no-tokenizer")
    try FileManager.default.createDirectory(at: bare, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: bare) }
    let borrowed = try Comparison.encoders(original: original, compressed: bare)
    #expect(borrowed.compressed.tokenizer === borrowed.original.tokenizer)
    // The original must have its own.
    #expect(throws: (any Error).self) {
      _ = try Comparison.encoders(original: bare, compressed: original)
    }
  }

  /// The original's perplexity is the divergence's reference, over the same windows.
  @Test func perplexityOfBothModelsComesFromOneRun() throws {
    let a = try DecoderModel(url: Self.models.appendingPathComponent("llama"))
    let b = try DecoderModel(url: Self.models.appendingPathComponent("llama-pruned"))
    let encoder = try RequestEncoder(modelFolder: Self.models.appendingPathComponent("llama"))
    let (result, divergence) = try TextScorer(model: b, encoder: encoder).run(
      documents: ["In the beginning was the word, and the word was with the model."],
      seqLen: 8, stride: 8, reference: a)
    var comparison = Comparison(original: try facts("llama"), compressed: try facts("llama-pruned"))
    comparison.setPerplexity(compressed: result, divergence: divergence)
    #expect(comparison.compressedPerplexity == result)
    #expect(comparison.divergence == divergence)
    #expect(comparison.originalPerplexity == divergence?.reference)
    #expect(comparison.originalPerplexity != nil)
    #expect(comparison.rows.contains { $0.0 == "perplexity" })
  }
}
