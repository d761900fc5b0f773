import ArgumentParser
import Checkpoint
import Foundation
import Testing

@testable import StreamlineCLI

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 29, through the command line as a user runs it: a run's outputs committed as one,
/// refusals before work naming the user's path, special files never replaced, a Hugging Face
/// cache snapshot working everywhere, export as strict as eval, signals that leave nothing.
@Suite struct HostileRoundTwoTests {
  typealias Scratch = OutputSafetyTests.Scratch
  static let calibration = OutputSafetyTests.calibration.path
  static let task = OutputSafetyTests.task.path

  static func run(_ arguments: [String]) -> String? { OutputSafetyTests.run(arguments) }

  /// A prune that computes nothing: `--layers`, no replacement, no held-out evaluation.
  static func quickPrune(_ model: String, output: String, _ more: [String] = []) -> [String] {
    [
      "prune", model, "--layers", "1-2", "--replace", "none", "--eval-samples", "0",
      "--output", output,
    ] + more
  }

  /// Sets every value of F32 tensor `name` in `folder`'s model.safetensors to `value`.
  static func fill(_ folder: URL, _ name: String, with value: Float) throws {
    let url = folder.appendingPathComponent("model.safetensors")
    var data = try Data(contentsOf: url)
    let length = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    let header =
      try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as! [String: Any]
    let entry = header[name] as! [String: Any]
    #expect(entry["dtype"] as? String == "F32")
    let offsets = entry["data_offsets"] as! [Int]
    for offset in stride(from: 8 + length + offsets[0], to: 8 + length + offsets[1], by: 4) {
      withUnsafeBytes(of: value.bitPattern.littleEndian) {
        data.replaceSubrange(offset..<(offset + 4), with: $0)
      }
    }
    try data.write(to: url)
  }

  /// `text` is one line, starts with `Error: FLAG: ` when a flag is given, and holds `parts`.
  func expectLine(
    _ text: String?, flag: String? = nil, _ parts: [String],
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    guard let text else {
      Issue.record("accepted", sourceLocation: sourceLocation)
      return
    }
    #expect(!text.contains("\n"), "one line: \(text)", sourceLocation: sourceLocation)
    if let flag {
      #expect(text.hasPrefix("Error: \(flag): "), "\(text)", sourceLocation: sourceLocation)
    }
    for part in parts {
      #expect(text.contains(part), "«\(text)» mentions «\(part)»", sourceLocation: sourceLocation)
    }
    #expect(
      !text.contains(".partial-"), "names no hidden path: \(text)", sourceLocation: sourceLocation)
  }

  // MARK: - A hub cache snapshot

  /// A Hugging Face cache: `models--x/blobs/HASH` and `snapshots/REV/NAME -> ../../blobs/HASH`.
  static func hubSnapshot(of model: URL, in folder: URL) throws -> URL {
    let repository = folder.appendingPathComponent("hub/models--tiny")
    let blobs = repository.appendingPathComponent("blobs")
    let snapshot = repository.appendingPathComponent("snapshots/0123abcd")
    try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: snapshot, withIntermediateDirectories: true)
    let names = try FileManager.default.contentsOfDirectory(atPath: model.path).sorted()
    for (index, name) in names.enumerated() {
      let blob = "blob\(index)"
      try FileManager.default.copyItem(
        at: model.appendingPathComponent(name), to: blobs.appendingPathComponent(blob))
      try FileManager.default.createSymbolicLink(
        atPath: snapshot.appendingPathComponent(name).path,
        withDestinationPath: "../../blobs/\(blob)")
    }
    return snapshot
  }

  /// Every file of the snapshot is a relative link into ../../blobs: every command reads it,
  /// and what prune writes holds files, never links (which would dangle there).
  @Test func aHubCacheSnapshotWorksForEveryCommand() throws {
    let scratch = try PruneGGUFTests.Scratch()
    let snapshot = try Self.hubSnapshot(of: scratch.model, in: scratch.url).path
    #expect(Self.run(["inspect", snapshot]) == nil)
    #expect(Self.run(["eval", snapshot, "--task", Self.task, "--limit", "2"]) == nil)
    #expect(
      Self.run([
        "analyze", snapshot, "--remove", "1", "--samples", "2", "--seq-len", "16",
        "--calibration", Self.calibration,
      ]) == nil)
    let out = scratch.path("out")
    #expect(Self.run(Self.quickPrune(snapshot, output: out)) == nil)
    for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
      #expect(FileNode.kind(out + "/" + name) == S_IFREG, "\(name) is a file, not a link")
      #expect(
        FileManager.default.contents(atPath: out + "/" + name)
          == FileManager.default.contents(atPath: scratch.model.appendingPathComponent(name).path))
    }
    #expect(Self.run(["export", out, "--gguf", scratch.path("out.gguf")]) == nil)
    #expect(Self.run(["export", snapshot, "--gguf", scratch.path("snapshot.gguf")]) == nil)
    #expect(Self.run(["eval", out, "--task", Self.task, "--limit", "2"]) == nil)
    #expect(scratch.listing() == ["hub", "model", "out", "out.gguf", "snapshot.gguf"])
  }

  /// A FIFO side file is refused before any work, never opened (it would hang).
  @Test func aFIFOSideFileIsRefusedBeforeWork() throws {
    let scratch = try Scratch()
    let fifo = scratch.model.appendingPathComponent("generation_config.json").path
    try FileManager.default.removeItem(atPath: fifo)
    #expect(mkfifo(fifo, 0o600) == 0)
    let text = Self.run(Self.quickPrune(scratch.model.path, output: scratch.path("out")))
    expectLine(text, [fifo, "FIFO"])
    #expect(scratch.listing() == ["model"])
  }

  // MARK: - Outputs checked up front, around each other

  @Test func outputsInsideEachOtherAreRefusedBeforeWork() throws {
    let scratch = try Scratch()
    let text = Self.run(
      Self.quickPrune(
        scratch.model.path, output: scratch.path("out"),
        ["--report", scratch.path("R"), "--gguf", scratch.path("R/m.gguf")]))
    expectLine(text, flag: "--gguf", ["inside the report folder"])
    #expect(scratch.listing() == ["model"])
  }

  @Test func specialFilesAtOutputPathsAreNeverReplaced() throws {
    let scratch = try Scratch()
    let fifo = scratch.path("fifo")
    #expect(mkfifo(fifo, 0o600) == 0)
    let link = scratch.path("link.gguf")
    try Data("mine".utf8).write(to: URL(fileURLWithPath: scratch.path("mine.gguf")))
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "mine.gguf")
    expectLine(
      Self.run(["eval", "demo", "--task", Self.task, "--limit", "2", "--predictions", fifo]),
      flag: "--predictions", ["FIFO"])
    expectLine(
      Self.run(["eval", "demo", "--task", Self.task, "--limit", "2", "--predictions", "/dev/null"]),
      flag: "--predictions", ["character device"])
    expectLine(
      Self.run(["analyze", "demo", "--remove", "2", "--samples", "2", "--save-stats", fifo]),
      flag: "--save-stats", ["FIFO"])
    expectLine(
      Self.run(Self.quickPrune("demo", output: scratch.path("out"), ["--gguf", link, "--force"])),
      flag: "--gguf", ["symbolic link"])
    expectLine(
      Self.run(["export", "demo", "--gguf", link, "--force"]), flag: "--gguf", ["symbolic link"])
    let folderLink = scratch.path("folder-link")
    try FileManager.default.createSymbolicLink(atPath: folderLink, withDestinationPath: "model")
    expectLine(
      Self.run(Self.quickPrune("demo", output: folderLink, ["--force"])), flag: "--output",
      ["symbolic link"])
    #expect(FileNode.kind(fifo) == S_IFIFO)
    #expect(FileNode.kind(link) == S_IFLNK)
    #expect(FileNode.kind("/dev/null") == S_IFCHR)
    #expect(scratch.listing() == ["fifo", "folder-link", "link.gguf", "mine.gguf", "model"])
  }

  // MARK: - Checks before work

  /// NaN weights in layers nothing computes: refused before work when a GGUF is asked, and by
  /// the copy pass otherwise; nothing is written either way.
  @Test func nanWeightsAreRefusedNotCopied() throws {
    let scratch = try PruneGGUFTests.Scratch()
    try Self.fill(scratch.model, "model.layers.3.mlp.down_proj.weight", with: .nan)
    for extra in [[], ["--gguf", scratch.path("m.gguf")]] {
      let text = Self.run(Self.quickPrune(scratch.model.path, output: scratch.path("out"), extra))
      expectLine(text, ["model.layers.3.mlp.down_proj.weight", "NaN"])
      #expect(scratch.listing() == ["model"])
    }
  }

  /// The demo's tokenizer has no GGUF form: `--gguf` is refused before scoring, not after.
  @Test func theTokenizerAGGUFEmbedsIsCheckedBeforeWork() throws {
    let scratch = try Scratch()
    let start = Date()
    let text = Self.run([
      "prune", scratch.model.path, "--remove", "2", "--replace", "linear", "--calibration",
      Self.calibration, "--output", scratch.path("out"), "--gguf", scratch.path("m.gguf"),
    ])
    expectLine(text, ["tokenizer.json", "cannot be exported to GGUF"])
    #expect(Date().timeIntervalSince(start) < 30, "refused before the work")
    #expect(scratch.listing() == ["model"])
  }

  @Test func theGGUFIsNamedAfterTheOutputNotItsTemporaryFolder() throws {
    let scratch = try PruneGGUFTests.Scratch()
    let gguf = scratch.path("small.gguf")
    #expect(
      Self.run(
        Self.quickPrune(scratch.model.path, output: scratch.path("small-model"), ["--gguf", gguf]))
        == nil)
    let file = try GGUFFile(path: gguf)
    #expect(file["general.name"] == .string("small-model"))
    #expect(scratch.listing() == ["model", "small-model", "small.gguf"])
  }

  /// `--force` with a GGUF that cannot be written (its place is a folder): refused before any
  /// work, the earlier checkpoint and report as they were. (A commit that fails after the others
  /// went in is `HostileOutputTests.aFailedCommitPutsBackEveryEarlierOutput`.)
  @Test func aGGUFThatCannotBeWrittenKeepsTheEarlierOutputs() throws {
    let scratch = try PruneGGUFTests.Scratch()
    let earlier = scratch.path("out")
    let report = scratch.path("report")
    #expect(
      Self.run(
        Self.quickPrune(
          scratch.model.path, output: earlier,
          ["--report", report, "--gguf", scratch.path("m.gguf")]
        )) == nil)
    let before = try Data(contentsOf: URL(fileURLWithPath: earlier + "/streamline.json"))
    let reportBefore = scratch.listing(report)
    try FileManager.default.removeItem(atPath: scratch.path("m.gguf"))
    try FileManager.default.createDirectory(
      atPath: scratch.path("m.gguf"), withIntermediateDirectories: false)
    // Refused up front: a folder is not a GGUF file.
    expectLine(
      Self.run(
        Self.quickPrune(
          scratch.model.path, output: earlier,
          ["--report", report, "--gguf", scratch.path("m.gguf"), "--force"])), flag: "--gguf",
      ["folder"])
    #expect(try Data(contentsOf: URL(fileURLWithPath: earlier + "/streamline.json")) == before)
    #expect(scratch.listing(report) == reportBefore)
    #expect(scratch.listing() == ["m.gguf", "model", "out", "report"])
  }

  // MARK: - export as strict as eval

  @Test func exportRefusesALayerConfigDoesNotCount() throws {
    let scratch = try Scratch()
    let url = scratch.model.appendingPathComponent("config.json")
    var config = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    config["num_hidden_layers"] = (config["num_hidden_layers"] as! Int) - 1
    try JSONSerialization.data(withJSONObject: config).write(to: url)
    let eval = Self.run(["eval", scratch.model.path, "--task", Self.task, "--limit", "1"])
    let export = Self.run(["export", scratch.model.path, "--gguf", scratch.path("m.gguf")])
    expectLine(export, ["model.layers.11."])
    #expect(eval != nil)
    #expect(scratch.listing() == ["model"])
  }

  @Test func aManifestKeyAndAListOfChatTemplatesExport() throws {
    let scratch = try PruneGGUFTests.Scratch()
    try Data(#"{"manifest": {"a": 1}, "removed_layers": [1]}"#.utf8).write(
      to: scratch.model.appendingPathComponent("streamline.json"))
    let configURL = scratch.model.appendingPathComponent("tokenizer_config.json")
    var config = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
    config["chat_template"] = [
      ["name": "default", "template": "{{ messages }}"],
      ["name": "tool_use", "template": "{{ tools }}"],
    ]
    try JSONSerialization.data(withJSONObject: config).write(to: configURL)
    let gguf = scratch.path("m.gguf")
    #expect(Self.run(["export", scratch.model.path, "--gguf", gguf]) == nil)
    let file = try GGUFFile(path: gguf)
    #expect(file["tokenizer.chat_template"] == .string("{{ messages }}"))
    #expect(file["tokenizer.chat_template.tool_use"] == .string("{{ tools }}"))
    #expect(file["streamline.removed_layers"] != nil)
    if case .string(let manifest)? = file["streamline.manifest"] {
      #expect(manifest.contains("removed_layers"), "the whole manifest, not its manifest field")
    } else {
      Issue.record("no streamline.manifest")
    }
  }

  // MARK: - Smaller ones

  @Test func trainTokensAreWhatToRaise() throws {
    let text = Self.run([
      "prune", "demo", "--remove", "1", "--replace", "linear", "--train-tokens", "1", "--samples",
      "2", "--seq-len", "32", "--eval-samples", "0", "--output",
      FileManager.default.temporaryDirectory.appendingPathComponent(
        "streamline-never-\(UUID().uuidString)"
      ).path,
    ])
    expectLine(text, ["--train-tokens", "64"])
    #expect(text?.contains("--train-samples") == false, "\(text ?? "")")
  }

  // MARK: - Signals (the built binary)

  func launch(_ arguments: [String], in folder: URL, shell: String? = nil) throws -> (
    Process, Pipe
  ) {
    let process = Process()
    if let shell {
      process.executableURL = URL(fileURLWithPath: "/bin/sh")
      process.arguments =
        ["-c", shell + " \"$@\"", "sh", OutputSafetyTests.binary.path] + arguments
    } else {
      process.executableURL = OutputSafetyTests.binary
      process.arguments = arguments
    }
    process.currentDirectoryURL = folder
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    return (process, errors)
  }

  /// SIGHUP (a closed terminal) cleans up as SIGTERM does, with the shell's status 129.
  @Test func hangUpCleansUp() throws {
    let scratch = try Scratch()
    let (process, errors) = try launch(
      [
        "prune", "demo", "--remove", "2", "--replace", "none", "--samples", "64", "--output",
        "out", "--report", "report", "--gguf", "out.gguf",
      ], in: scratch.url)
    var seen = false
    for _ in 0..<3000 where process.isRunning {
      if scratch.listing().contains(where: { $0.hasPrefix(".out.partial-") }) {
        seen = true
        break
      }
      usleep(10_000)
    }
    #expect(seen)
    kill(process.processIdentifier, SIGHUP)
    _ = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationReason == .exit)
    #expect(process.terminationStatus == 129)
    #expect(scratch.listing() == ["model"])
  }

  /// Interrupts at once, while the outputs are being made: nothing is ever left.
  @Test func earlyInterruptsLeaveNothing() throws {
    let scratch = try Scratch()
    for delay in [0, 20_000, 60_000, 120_000, 250_000] as [useconds_t] {
      let (process, errors) = try launch(
        [
          "prune", "demo", "--layers", "1-2", "--replace", "none", "--output", "out", "--report",
          "report", "--gguf", "out.gguf", "--force",
        ], in: scratch.url)
      usleep(delay)
      kill(process.processIdentifier, SIGINT)
      let text = String(
        decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      process.waitUntilExit()
      let left = scratch.listing().filter { $0.hasPrefix(".") }
      #expect(
        left.isEmpty,
        "after \(delay) µs: \(left), status \(process.terminationStatus) \(process.terminationReason == .exit): \(text)"
      )
      for name in ["out", "report", "out.gguf"] {
        FileNode.remove(scratch.path(name))
      }
    }
  }

  /// `ulimit -f`: the write fails with "file too large" instead of the process dying of
  /// SIGXFSZ, and nothing is left.
  @Test func aFileSizeLimitIsAnError() throws {
    let scratch = try PruneGGUFTests.Scratch()
    let (process, errors) = try launch(
      ["export", scratch.model.path, "--gguf", "m.gguf"], in: scratch.url,
      shell: "ulimit -f 64; exec")
    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationReason == .exit)
    #expect(process.terminationStatus == 1, "\(text)")
    #expect(text.contains("file too large"), "\(text)")
    #expect(text.contains("m.gguf"), "\(text)")
    #expect(!text.contains(".partial-"), "\(text)")
    #expect(scratch.listing() == ["model"])
  }

  /// Under `ulimit -v` too small for the run: refused before work with the estimate and the
  /// limit, in one line, nothing left (it ended in a trap, a SIGSEGV or a hang).
  @Test func aMemoryLimitTooSmallIsRefusedBeforeWork() throws {
    let scratch = try Scratch()
    let (process, errors) = try launch(
      [
        "prune", "demo", "--remove", "2", "--replace", "none", "--samples", "4", "--seq-len",
        "64", "--eval-samples", "2", "--output", "out",
      ], in: scratch.url, shell: "ulimit -v 300000; exec")
    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationReason == .exit)
    #expect(process.terminationStatus == 1, "\(text)")
    #expect(text.split(separator: "\n").count == 1, "one line: \(text)")
    #expect(text.contains("this prune needs about"), "\(text)")
    #expect(text.contains("ulimit -v"), "\(text)")
    #expect(scratch.listing() == ["model"])
  }

  /// `ulimit -f` on a statistics file: one line naming the option and the user's file.
  @Test func aFileSizeLimitNamesTheOption() throws {
    let scratch = try Scratch()
    let (process, errors) = try launch(
      [
        "analyze", "demo", "--remove", "2", "--samples", "2", "--seq-len", "32", "--save-stats",
        "s.json",
      ], in: scratch.url, shell: "ulimit -f 1; exec")
    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 1, "\(text)")
    #expect(text.hasPrefix("Error: --save-stats: \(scratch.path("s.json")): "), "\(text)")
    #expect(text.contains("file too large"), "\(text)")
    #expect(scratch.listing() == ["model"])
  }
}
