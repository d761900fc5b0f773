import ArgumentParser
import Foundation
import Testing

@testable import StreamlineCLI

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 17: nothing lost, nothing crashed. Every path a command writes is refused before any
/// work when it is blank, the current folder, or inside or onto an input, with one line naming
/// the option; an interrupted run leaves nothing, and an earlier output stays as it was.
@Suite struct OutputSafetyTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  static let demo = root.appendingPathComponent("demo/model")
  static let calibration = root.appendingPathComponent("demo/data/calibration.txt")
  static let task = root.appendingPathComponent("demo/data/tasks/cloze.jsonl")
  /// The binary `swift test` built beside the tests.
  static let binary = root.appendingPathComponent(".build/debug/streamline")

  /// A scratch folder holding a copy of the demo model, removed afterwards.
  final class Scratch {
    let url: URL
    var model: URL { url.appendingPathComponent("model") }

    init() throws {
      url = FileManager.default.temporaryDirectory.appendingPathComponent(
        "streamline-outputs-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
      try FileManager.default.copyItem(at: OutputSafetyTests.demo, to: model)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Every file under `folder` with its bytes.
    func snapshot(_ folder: URL) -> [String: Data] {
      var files: [String: Data] = [:]
      let enumerator = FileManager.default.enumerator(atPath: folder.path)
      while let name = enumerator?.nextObject() as? String {
        files[name] = FileManager.default.contents(
          atPath: folder.appendingPathComponent(name).path)
      }
      return files
    }

    func listing(_ folder: URL? = nil) -> [String] {
      ((try? FileManager.default.contentsOfDirectory(atPath: (folder ?? url).path)) ?? [])
        .sorted()
    }
  }

  /// `streamline ARGUMENTS` in this process; nil on success, else the error's text.
  static func run(_ arguments: [String]) -> String? {
    do {
      var command = try StreamlineCommand.parseAsRoot(arguments)
      try command.run()
      return nil
    } catch {
      return StreamlineCommand.fullMessage(for: error)
    }
  }

  /// `arguments` must be refused with one line naming `flag` and `mentions`, leaving the model
  /// folder byte for byte as it was.
  func expectRefused(
    _ arguments: [String], flag: String, _ mentions: [String], scratch: Scratch,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let before = scratch.snapshot(scratch.model)
    guard let text = Self.run(arguments) else {
      Issue.record("\(arguments) was accepted", sourceLocation: sourceLocation)
      return
    }
    #expect(!text.contains("\n"), "one line: \(text)", sourceLocation: sourceLocation)
    #expect(
      text.hasPrefix("Error: \(flag): "), "names \(flag): \(text)", sourceLocation: sourceLocation)
    for part in mentions {
      #expect(text.contains(part), "«\(text)» mentions «\(part)»", sourceLocation: sourceLocation)
    }
    #expect(
      scratch.snapshot(scratch.model) == before, "the model folder is unchanged",
      sourceLocation: sourceLocation)
  }

  @Test func writeOptionsIntoOrOntoAnInputAreRefused() throws {
    let scratch = try Scratch()
    let model = scratch.model.path
    let config = scratch.model.appendingPathComponent("config.json").path
    let weights = scratch.model.appendingPathComponent("model.safetensors").path
    let inside = "inside the input model folder"
    expectRefused(
      ["analyze", model, "--remove", "2", "--save-stats", config], flag: "--save-stats",
      [config, inside], scratch: scratch)
    expectRefused(
      ["eval", model, "--task", Self.task.path, "--predictions", weights], flag: "--predictions",
      [weights, inside], scratch: scratch)
    expectRefused(
      [
        "prune", model, "--remove", "2", "--replace", "none", "--calibration",
        Self.calibration.path, "--output", scratch.path("out"),
        "--report", scratch.model.appendingPathComponent("x").path,
      ], flag: "--report", [inside], scratch: scratch)
    expectRefused(
      ["analyze", model, "--remove", "2", "--report", model], flag: "--report",
      ["is the input model folder"], scratch: scratch)
    expectRefused(
      ["compare", "demo", model, "--task", Self.task.path, "--report", model], flag: "--report",
      ["is the compressed model folder"], scratch: scratch)
    // Onto a data file, and a report folder that would swallow the statistics.
    let calibration = scratch.path("calibration.txt")
    try FileManager.default.copyItem(at: Self.calibration, to: URL(fileURLWithPath: calibration))
    expectRefused(
      [
        "analyze", model, "--remove", "2", "--calibration", calibration, "--save-stats",
        calibration,
      ], flag: "--save-stats", ["is the calibration data"], scratch: scratch)
    expectRefused(
      [
        "analyze", model, "--remove", "2", "--save-stats", scratch.path("r/stats.json"),
        "--report", scratch.path("r"),
      ], flag: "--report", ["contains the statistics file"], scratch: scratch)
    expectRefused(
      [
        "eval", model, "--task", Self.task.path, "--predictions", Self.task.path,
      ], flag: "--predictions", ["is the --task file"], scratch: scratch)
    // Through a symbolic link to the model.
    let link = scratch.path("link")
    try FileManager.default.createSymbolicLink(
      atPath: link, withDestinationPath: scratch.model.path)
    expectRefused(
      ["analyze", model, "--remove", "2", "--save-stats", link + "/config.json"],
      flag: "--save-stats", [inside], scratch: scratch)
    // --force replaces the checkpoint folder, never a report folder holding the user's files.
    let notes = scratch.url.appendingPathComponent("mine/notes.txt")
    try FileManager.default.createDirectory(
      at: notes.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data("precious".utf8).write(to: notes)
    expectRefused(
      [
        "prune", model, "--remove", "2", "--replace", "none", "--calibration",
        Self.calibration.path, "--output", scratch.path("out"), "--force", "--report",
        scratch.path("mine"),
      ], flag: "--report", ["holds files this does not write"], scratch: scratch)
    #expect(FileManager.default.contents(atPath: notes.path) == Data("precious".utf8))
    #expect(
      scratch.listing() == ["calibration.txt", "link", "mine", "model"], "nothing was written")
  }

  @Test func blankOutputsAreRefused() throws {
    let scratch = try Scratch()
    for blank in ["", " ", "\t"] {
      expectRefused(
        [
          "prune", scratch.model.path, "--remove", "2", "--replace", "none", "--calibration",
          Self.calibration.path, "--output", blank, "--force",
        ], flag: "--output", ["no path given"], scratch: scratch)
      expectRefused(
        ["analyze", scratch.model.path, "--remove", "2", "--save-stats", blank],
        flag: "--save-stats", ["no path given"], scratch: scratch)
    }
    #expect(scratch.listing() == ["model"])
  }

  /// The compressed model's own tokenizer or a one-line refusal, never the original's in silence.
  @Test func compareRefusesACorruptCompressedTokenizer() throws {
    let scratch = try Scratch()
    let tokenizer = scratch.model.appendingPathComponent("tokenizer.json")
    try Data("{\"model\": ".utf8).write(to: tokenizer)
    let text = try #require(
      Self.run(["compare", "demo", scratch.model.path, "--task", Self.task.path, "--limit", "2"]))
    #expect(!text.contains("\n"), "one line: \(text)")
    #expect(text.contains(tokenizer.path))
    #expect(text.contains("compressed model's tokenizer"))
  }

  @Test func compareSaysWhichTokenizerScoredEachModel() throws {
    let scratch = try Scratch()
    try FileManager.default.removeItem(at: scratch.model.appendingPathComponent("tokenizer.json"))
    let report = scratch.path("report")
    #expect(
      Self.run([
        "compare", "demo", scratch.model.path, "--task", Self.task.path, "--limit", "2",
        "--speed-tokens", "8", "--report", report,
      ]) == nil)
    let json =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: report + "/comparison.json")))
      as! [String: Any]
    let tokenizers = try #require(json["tokenizers"] as? [String: Any])
    #expect(tokenizers["compressed_borrowed"] as? Bool == true)
    #expect((tokenizers["original"] as? String)?.hasSuffix("demo/model/tokenizer.json") == true)
    // The report folder holds only the report's files, so running again replaces it.
    #expect(
      Self.run([
        "compare", "demo", "demo", "--task", Self.task.path, "--limit", "2", "--speed-tokens",
        "8", "--report", report,
      ]) == nil)
    let again =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: report + "/comparison.json")))
      as! [String: Any]
    #expect((again["tokenizers"] as? [String: Any])?["identical"] as? Bool == true)
    #expect(scratch.listing() == ["model", "report"])
  }

  /// The built binary in `folder`; returns the process, its standard error piped.
  func launch(_ arguments: [String], in folder: URL) throws -> (Process, Pipe) {
    let process = Process()
    process.executableURL = Self.binary
    process.arguments = arguments
    process.currentDirectoryURL = folder
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    return (process, errors)
  }

  /// From a folder holding a canary, an empty --output with --force is refused; the folder and
  /// the canary stay.
  @Test func emptyOutputDoesNotWipeTheCurrentFolder() throws {
    let scratch = try Scratch()
    try Data("canary".utf8).write(to: scratch.url.appendingPathComponent("canary.txt"))
    let (process, errors) = try launch(
      ["prune", "demo", "--remove", "2", "--replace", "none", "--output", "", "--force"],
      in: scratch.url)
    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus != 0)
    #expect(text.contains("--output"), "\(text)")
    #expect(text.split(separator: "\n").count == 1, "one line: \(text)")
    #expect(scratch.listing() == ["canary.txt", "model"])
    #expect(FileManager.default.contents(atPath: scratch.path("canary.txt")) == Data("canary".utf8))
  }

  /// SIGTERM while prune works removes its temporary folder and the parents it made, keeps an
  /// earlier output, and ends with status 143.
  @Test func interruptLeavesNothingAndKeepsTheEarlierOutput() throws {
    let scratch = try Scratch()
    let earlier = scratch.url.appendingPathComponent("earlier")
    try FileManager.default.createDirectory(at: earlier, withIntermediateDirectories: true)
    try Data("good".utf8).write(to: earlier.appendingPathComponent("streamline.json"))
    for target in ["earlier", "new/deep/out"] {
      let (process, errors) = try launch(
        [
          "prune", "demo", "--remove", "2", "--replace", "none", "--samples", "64",
          "--output", target, "--force",
        ], in: scratch.url)
      // Wait for the temporary folder, then interrupt.
      let output = scratch.url.appendingPathComponent(target)
      let name = output.lastPathComponent
      let folder = output.deletingLastPathComponent()
      var seen = false
      for _ in 0..<3000 where process.isRunning {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        if entries.contains(where: { $0.hasPrefix(".\(name).partial-") }) {
          seen = true
          break
        }
        usleep(10_000)
      }
      #expect(seen, "the temporary folder appeared")
      process.terminate()
      _ = errors.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      #expect(process.terminationReason == .exit)
      #expect(process.terminationStatus == 143)
      #expect(scratch.listing() == ["earlier", "model"], "\(target): nothing left behind")
      #expect(scratch.listing(earlier) == ["streamline.json"])
      #expect(
        FileManager.default.contents(atPath: earlier.appendingPathComponent("streamline.json").path)
          == Data("good".utf8))
    }
  }

  /// A failure after the checkpoint is written (here the report's place turns into a file while
  /// prune works) leaves no output and the earlier --force output as it was.
  @Test func aLateFailureLeavesTheEarlierOutput() throws {
    let scratch = try Scratch()
    let earlier = scratch.url.appendingPathComponent("earlier")
    try FileManager.default.createDirectory(at: earlier, withIntermediateDirectories: true)
    try Data("good".utf8).write(to: earlier.appendingPathComponent("streamline.json"))
    let (process, errors) = try launch(
      [
        "prune", "demo", "--remove", "2", "--replace", "none", "--samples", "4", "--seq-len",
        "64", "--eval-samples", "2", "--output", "earlier", "--force", "--report", "report",
      ], in: scratch.url)
    var seen = false
    for _ in 0..<3000 where process.isRunning {
      if scratch.listing().contains(where: { $0.hasPrefix(".report.partial-") }) {
        seen = true
        break
      }
      usleep(10_000)
    }
    #expect(seen, "the report's temporary folder appeared")
    try Data("not a folder".utf8).write(to: scratch.url.appendingPathComponent("report"))
    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 1, "\(text)")
    #expect(text.hasPrefix("Error: --report: "), "\(text)")
    #expect(text.split(separator: "\n").count == 1, "one line: \(text)")
    #expect(scratch.listing() == ["earlier", "model", "report"])
    #expect(scratch.listing(earlier) == ["streamline.json"])
    #expect(
      FileManager.default.contents(atPath: earlier.appendingPathComponent("streamline.json").path)
        == Data("good".utf8))
  }
}
