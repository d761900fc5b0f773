import Foundation
import Testing

@testable import Evaluation

/// Integers and line breaks in task, calibration, token-id and text files.
@Suite struct HostileInputTests {
  func failure(_ body: () throws -> Any) -> String? {
    do {
      _ = try body()
      return nil
    } catch {
      return "\(error)"
    }
  }

  @Test(arguments: ["1e300", "-1", "true", "2.5", "9007199254740993", "\"99999999999999999999\""])
  func taskLabelsAreBounded(_ label: String) {
    let line = #"{"context": "c", "choices": ["a", "b"], "label": \#(label)}"#
    let text = failure { try TaskFile.parse(Data(line.utf8), path: "t.jsonl") }
    #expect(text?.hasPrefix("t.jsonl:1: ") == true, "\(text ?? "no error")")
  }

  @Test(arguments: ["1e300", "-1", "true", "2.5", "4294967296", "\"7\"", "null"])
  func calibrationIdsAreBounded(_ id: String) {
    let line = "{\"input_ids\": [1, \(id)]}\n"
    let text = failure {
      try CalibrationFile.documents(Data(line.utf8), path: "c.jsonl")
    }
    #expect(text?.hasPrefix("c.jsonl:1: input_ids[1]") == true, "\(text ?? "no error")")
  }

  /// A 29-digit id is named as given, never cut to another number (issue 29).
  @Test func aLongIdIsPrintedWhole() {
    let id = "12345678901234567890123456789"
    let text = failure {
      try CalibrationFile.documents(Data("{\"input_ids\": [1, \(id)]}\n".utf8), path: "c.jsonl")
    }
    #expect(text?.contains("input_ids[1] is \(id),") == true, "\(text ?? "no error")")
  }

  @Test func calibrationDocuments() throws {
    let jsonl = "{\"text\": \"a\\nb\"}\r\n{\"input_ids\": [3, 4]}\r\n\r\n"
    #expect(
      try CalibrationFile.documents(Data(jsonl.utf8), path: "c.jsonl") == [
        .text("a\nb"), .ids([3, 4]),
      ])
    let text = "one\r\n\ntwo\n"
    #expect(try CalibrationFile.documents(Data(text.utf8), path: "c.txt") == [.text(text)])
    #expect(
      try CalibrationFile.documents(Data(text.utf8), path: "c.txt", lineDocuments: true) == [
        .text("one"), .text("two"),
      ])
  }

  @Test(arguments: ["-1", "4294967296", "99999999999999999999"])
  func tokenIdsAreBounded(_ id: String) {
    let text = failure { try TokenIdsFile.parse(Data("1 2\n3 \(id)\n".utf8), path: "ids.txt") }
    #expect(text?.hasPrefix("ids.txt:2: ") == true, "\(text ?? "no error")")
  }

  /// Windows line ends: "\r\n" is one Swift Character, so splitting at the Character "\n"
  /// would read the whole file as one line.
  @Test func windowsLineEndsSplitLines() throws {
    #expect(try TokenIdsFile.parse(Data("1 2\r\n3\r\n".utf8), path: "ids.txt") == [[1, 2], [3]])
    let task =
      #"{"context": "c", "choices": ["a", "b"], "label": 0}"# + "\r\n"
      + #"{"context": "d", "choices": ["a", "b"], "label": 1}"# + "\r\n"
    #expect(try TaskFile.parse(Data(task.utf8), path: "t.jsonl").items.count == 2)
    #expect(TextLines.split("a\r\nb\n\nc") == ["a", "b", "", "c"])
    #expect(TextLines.split("") == [""])
    #expect(TextLines.split("a\n") == ["a"])
  }

  /// `tokenize`'s inputs: lines, the whole text, or JSONL records, each exactly.
  @Test func tokenizeInputs() throws {
    let text = "first line\nsecond\r\n"
    #expect(try TokenizeInput.texts(Data(text.utf8), path: "--text") == ["first line", "second"])
    #expect(try TokenizeInput.texts(Data(text.utf8), path: "--text", whole: true) == [text])
    let jsonl = "{\"text\": \"a\\nb\\r\\n\"}\n\"plain\"\n\n{\"text\": \"\"}\n"
    #expect(
      try TokenizeInput.texts(Data(jsonl.utf8), path: "--text", jsonl: true) == [
        "a\nb\r\n", "plain", "",
      ])
    let bad = failure {
      try TokenizeInput.texts(Data("{\"body\": 1}\n".utf8), path: "in.jsonl", jsonl: true)
    }
    #expect(bad?.hasPrefix("in.jsonl:1: ") == true)
  }
}
