import Foundation
import Testing

@testable import Evaluation

#if canImport(Glibc)
  import Glibc
#endif

/// The one calibration parser (streamed or in memory), duplicate predictions, FIFOs and JSON
/// numbers.
@Suite struct StrictInputTests {
  /// A scratch folder, removed when the value goes away (tests leave nothing in TMPDIR).
  final class Scratch {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "streamline-eval-\(UUID().uuidString)")
    init() { try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(at: url) }

    func write(_ name: String, _ text: String) -> String {
      let path = url.appendingPathComponent(name).path
      FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
      return path
    }
  }

  func failure(_ body: () throws -> Void) -> String? {
    do {
      try body()
      return nil
    } catch {
      return "\(error)"
    }
  }

  /// The streamed reader (what analyze and prune use) refuses what a lenient one would
  /// truncate (1.9999 → 1, -0.5 → 0), read as 1 (`true`) or wrap (1e300), naming file:line.
  @Test(arguments: [
    "1.9999", "-0.5", "true", "false", "1e300", "-1", "2147483648", "\"5\"", "null",
  ])
  func theStreamRefusesNonIntegerIds(_ id: String) {
    let scratch = Scratch()
    let path = scratch.write("c.jsonl", "{\"input_ids\": [1, 2]}\n\n{\"input_ids\": [3, \(id)]}\n")
    let text = failure { try CalibrationFile.read(path: path) { _, _ in } }
    #expect(text?.hasPrefix("\(path):3: input_ids[1] is ") == true, "\(text ?? "accepted")")
  }

  /// Streamed in any block size, a file gives what the in-memory parser gives, with places.
  @Test func streamingMatchesTheWholeFile() throws {
    let jsonl =
      "{\"text\": \"a\"}\r\n{\"input_ids\": [3, 4]}\n\n{\"text\": \"\"}\n{\"input_ids\": [5]}"
    let whole = try CalibrationFile.documents(Data(jsonl.utf8), path: "c.jsonl")
    #expect(whole == [.text("a"), .ids([3, 4]), .ids([5])])
    for block in [1, 2, 3, 7, 64] {
      #expect(
        try CalibrationFile.documents(Data(jsonl.utf8), path: "c.jsonl", blockSize: block) == whole)
    }
    let scratch = Scratch()
    let path = scratch.write("c.jsonl", jsonl)
    var seen: [String] = []
    var bytes = 0
    try CalibrationFile.read(path: path, bytes: { bytes += $0.count }) { _, place in
      seen.append(place)
    }
    #expect(seen == ["\(path):1", "\(path):2", "\(path):5"])
    #expect(bytes == jsonl.utf8.count)
    let lines = scratch.write("c.txt", "one\r\n\ntwo")
    var documents: [CalibrationDocument] = []
    try CalibrationFile.read(path: lines, lineDocuments: true) { document, _ in
      documents.append(document)
    }
    #expect(documents == [.text("one"), .text("two")])
  }

  @Test func aFIFOIsRefusedBeforeOpening() throws {
    let scratch = Scratch()
    for name in ["c.jsonl", "task.jsonl", "ids.txt", "p.jsonl", "text.txt"] {
      let path = scratch.url.appendingPathComponent(name).path
      #expect(mkfifo(path, 0o600) == 0)
    }
    func path(_ name: String) -> String { scratch.url.appendingPathComponent(name).path }
    // Each of these would block forever on opening the FIFO.
    for text in [
      failure { try CalibrationFile.read(path: path("c.jsonl")) { _, _ in } },
      failure { _ = try TaskFile.read(path: path("task.jsonl"), format: nil) },
      failure { _ = try TokenIdsFile.read(path: path("ids.txt")) },
      failure { _ = try PredictionsFile.read(path: path("p.jsonl")) },
      failure { _ = try TextFile.read(path: path("text.txt"), field: nil) },
    ] {
      #expect(text?.contains("is a FIFO") == true, "\(text ?? "accepted")")
    }
  }

  /// A duplicated record would count its item twice in stability.
  @Test func duplicatePredictionsAreRefused() throws {
    let record =
      #"{"task":"t","index":3,"label":0,"prediction":0,"correct":true,"loglikelihoods":[-1,-2],"tokens":[1,1]}"#
    let other = record.replacingOccurrences(of: "\"index\":3", with: "\"index\":4")
    let otherTask = record.replacingOccurrences(of: "\"task\":\"t\"", with: "\"task\":\"u\"")
    let scratch = Scratch()
    let good = scratch.write("good.jsonl", [record, other, otherTask].joined(separator: "\n"))
    #expect(try PredictionsFile.read(path: good).count == 3)
    let bad = scratch.write("bad.jsonl", [record, other, "", record].joined(separator: "\n"))
    let text = failure { _ = try PredictionsFile.read(path: bad) }
    #expect(
      text == "\(bad):4: item 3 of task t is also on line 1; each item once",
      "\(text ?? "accepted")")
  }

  @Test func predictionsWithNonFiniteNumbersStillWrite() throws {
    let scratch = Scratch()
    let path = scratch.url.appendingPathComponent("p.jsonl").path
    var score = ItemScore(
      index: 0, label: 0, loglikelihoods: [-.infinity, -1], tokens: [1, 1], lengths: [1, 1])
    score.loglikelihoods[1] = .nan
    try PredictionsFile.write(
      [Prediction(task: "t", score: score, context: nil, choices: nil)], path: path)
    let text = String(decoding: FileManager.default.contents(atPath: path)!, as: UTF8.self)
    #expect(text.contains("\"loglikelihoods\":[null,null]"), "\(text)")
  }
}
