import Evaluation
import Foundation
import Testing

/// Task files: layouts detected from their fields, malformed ones refused with file and line.
@Suite struct TaskFileTests {
  @Test(arguments: EvalFixtures.tasks)
  func layoutIsDetected(task: String) throws {
    let file = try TaskFile.read(path: EvalFixtures.task(task))
    let expected = task == "arc_challenge" ? "arc_easy" : task  // one layout, two tasks
    #expect(file.format.rawValue == expected)
    #expect(file.name == task)
  }

  @Test func formatCanBeNamed() throws {
    let file = try TaskFile.read(
      path: EvalFixtures.task("arc_challenge"), format: .arcChallenge, name: "my_arc")
    #expect(file.format == .arcChallenge && file.name == "my_arc")
    // A file of one layout read as another fails on the first line.
    #expect(throws: EvaluationError.self) {
      try TaskFile.read(path: EvalFixtures.task("piqa"), format: .hellaswag)
    }
  }

  static let malformed: [(String, Int?, String)] = [
    ("missing-label.jsonl", 2, "missing field \"label\""),
    ("label-out-of-range.jsonl", 3, "label 2 is out of range for 2 choices"),
    ("empty-choices.jsonl", 1, "field \"choices\" is empty"),
    ("piqa-missing-sol2.jsonl", 2, "missing field \"sol2\""),
    ("arc-bad-answer.jsonl", 1, "answerKey \"C\" is not among the labels"),
    ("winogrande-no-blank.jsonl", 1, "has no \"_\" blank"),
    ("bad-json.jsonl", 2, "not valid JSON"),
    ("unknown-layout.jsonl", 1, "cannot tell the task layout"),
    ("choice-not-string.jsonl", 1, "field \"choices\" must hold strings"),
    ("empty.jsonl", nil, "holds no task items"),
  ]

  @Test(arguments: malformed)
  func malformedFilesNameFileAndLine(file: String, line: Int?, message: String) {
    let path = EvalFixtures.malformed(file)
    do {
      _ = try TaskFile.read(path: path)
      Issue.record("\(file) was accepted")
    } catch {
      let text = "\(error)"
      let prefix = line.map { "\(path):\($0): " } ?? "\(path): "
      #expect(text.hasPrefix(prefix), "\(text)")
      #expect(text.contains(message), "\(text)")
      #expect(!text.contains("\n"))
    }
  }

  @Test func missingFileIsReported() {
    #expect(
      throws: EvaluationError.cannotRead(path: "/nonexistent.jsonl", reason: "cannot read the file")
    ) {
      try TaskFile.read(path: "/nonexistent.jsonl")
    }
  }
}
