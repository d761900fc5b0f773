import Foundation
import Testing

@testable import Checkpoint

#if canImport(Glibc)
  import Glibc
#endif

@Suite struct OutputFolderTests {
  let scratch = Scratch()

  func listing(_ url: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
  }

  /// An input model folder with one file.
  func input() -> URL {
    let folder = scratch.folder("input")
    scratch.write("input/config.json", "{}")
    return folder
  }

  @Test func commitMovesTheFolderIntoPlace() throws {
    let target = scratch.url.appendingPathComponent("out")
    let output = try OutputFolder(target: target, inputs: [input()])
    #expect(output.url.deletingLastPathComponent() == target.deletingLastPathComponent())
    #expect(output.url.lastPathComponent.hasPrefix("."))
    #expect(
      !FileManager.default.fileExists(atPath: target.path), "nothing at the target before commit")
    try output.write(Data("{}".utf8), as: "config.json")
    try output.copy(scratch.url.appendingPathComponent("input/config.json"), as: "copied.json")
    try output.commit()
    #expect(listing(target) == ["config.json", "copied.json"])
    #expect(listing(scratch.url) == ["input", "out"], "no hidden folder left")
  }

  @Test func withoutCommitNothingIsLeft() throws {
    let target = scratch.url.appendingPathComponent("deep/er/out")
    do {
      let output = try OutputFolder(target: target)
      try output.write(Data("partial".utf8), as: "model.safetensors")
      #expect(FileManager.default.fileExists(atPath: output.file("model.safetensors").path))
      // The output goes out of scope unfinished, as when an error is thrown.
    }
    #expect(listing(scratch.url) == [], "temporary folder and the parents it made are gone")
  }

  @Test func discardAfterAFailure() throws {
    let target = scratch.url.appendingPathComponent("out")
    let output = try OutputFolder(target: target)
    #expect(throws: CheckpointError.self) {
      try SafeTensorsWriter.write(
        [
          try WritableTensor("x", shape: [2]) {
            throw CheckpointError.writeFailed(path: "x", reason: "boom")
          }
        ],
        to: output.file("model.safetensors").path)
    }
    output.discard()
    #expect(listing(scratch.url) == [])
  }

  @Test func refusesTheInputFolderItself() {
    let model = input()
    expectError([model.path, "is the input model folder"]) {
      _ = try OutputFolder(target: model, inputs: [model], force: true)
    }
    expectError([model.path, "is the input model folder"]) {
      _ = try OutputFolder(target: URL(fileURLWithPath: model.path + "/./sub/.."), inputs: [model])
    }
    #expect(listing(model) == ["config.json"])
  }

  @Test func refusesAFolderInsideTheInput() {
    let model = input()
    let target = model.appendingPathComponent("pruned")
    expectError([target.path, "inside the input model folder", model.path]) {
      _ = try OutputFolder(target: target, inputs: [model])
    }
    #expect(listing(model) == ["config.json"])
  }

  @Test func refusesTheInputThroughASymbolicLink() throws {
    let model = input()
    let link = scratch.url.appendingPathComponent("link")
    try FileManager.default.createSymbolicLink(at: link, withDestinationURL: model)
    expectError(["inside the input model folder"]) {
      _ = try OutputFolder(target: link.appendingPathComponent("out"), inputs: [model])
    }
    expectError(["is the input model folder"]) {
      _ = try OutputFolder(target: model, inputs: [link])
    }
  }

  @Test func refusesAFolderHoldingTheInput() {
    let model = input()
    expectError([scratch.url.path, "contains the input model folder"]) {
      _ = try OutputFolder(target: scratch.url, inputs: [model], force: true)
    }
  }

  @Test func existingNonEmptyTargetNeedsForce() throws {
    let target = scratch.folder("out")
    scratch.write("out/old.txt", "old")
    expectError([target.path, "not empty", "asked for"]) { _ = try OutputFolder(target: target) }

    // With force, a run that fails leaves the old folder as it was.
    do {
      let output = try OutputFolder(target: target, force: true)
      try output.write(Data("new".utf8), as: "new.txt")
      #expect(listing(target) == ["old.txt"])
    }
    #expect(listing(target) == ["old.txt"])
    #expect(listing(scratch.url) == ["out"])

    // A run that commits replaces it.
    let output = try OutputFolder(target: target, force: true)
    try output.write(Data("new".utf8), as: "new.txt")
    try output.commit()
    #expect(listing(target) == ["new.txt"])
    #expect(listing(scratch.url) == ["out"], "the replaced folder is removed")
  }

  @Test func existingEmptyTargetIsFine() throws {
    let target = scratch.folder("out")
    let output = try OutputFolder(target: target)
    try output.write(Data("x".utf8), as: "x")
    try output.commit()
    #expect(listing(target) == ["x"])
  }

  @Test func refusesAFile() {
    let path = scratch.write("out", "a file")
    expectError([path, "not a folder"]) {
      _ = try OutputFolder(target: URL(fileURLWithPath: path), force: true)
    }
  }

  @Test func targetAppearingBeforeCommitNeedsForce() throws {
    let target = scratch.url.appendingPathComponent("out")
    let output = try OutputFolder(target: target)
    scratch.write("out/someone-else.txt", "x")
    expectError([target.path, "not empty"]) { try output.commit() }
    output.discard()
    #expect(listing(target) == ["someone-else.txt"])
    #expect(listing(scratch.url) == ["out"])
  }
}

/// Issue 17: the one output policy, interrupts, stale partials and replacements.
@Suite struct OutputPolicyTests {
  let scratch = Scratch()

  func listing(_ url: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
  }

  func policy() -> OutputPolicy {
    scratch.write("model/config.json", "{}")
    scratch.write("data.txt", "text")
    return OutputPolicy(inputs: [
      .init(scratch.url.appendingPathComponent("model"), what: "the input model folder"),
      .init(scratch.url.appendingPathComponent("data.txt"), what: "the calibration data"),
    ])
  }

  @Test func blankPathsAreRefused() {
    let policy = policy()
    for blank in ["", " ", "\n\t"] {
      expectError(["no path given"]) { _ = try policy.folder(blank, force: true) }
      expectError(["no path given"]) { _ = try policy.file(blank) }
    }
    #expect(listing(scratch.url) == ["data.txt", "model"])
  }

  @Test func theCurrentFolderIsRefused() {
    let current = FileManager.default.currentDirectoryPath
    expectError(["is the current folder"]) { _ = try OutputPolicy().folder(".", force: true) }
    expectError(["contains the current folder"]) {
      _ = try OutputPolicy().folder(URL(fileURLWithPath: current).deletingLastPathComponent().path)
    }
  }

  @Test func filesIntoOrOntoInputsAreRefused() throws {
    let policy = policy()
    let config = scratch.path("model/config.json")
    expectError([config, "inside the input model folder"]) { _ = try policy.file(config) }
    expectError(["is the calibration data"]) { _ = try policy.file(scratch.path("data.txt")) }
    expectError(["contains the input model folder"]) {
      _ = try policy.folder(scratch.url.path, force: true)
    }
    expectError(["is a folder"]) { _ = try policy.file(scratch.path("model/..")) }
    let plain = scratch.write("plain", "x")
    expectError(["\(plain) is a file"]) { _ = try policy.file(plain + "/x.json") }
    #expect(bytes(of: config) == Array("{}".utf8))
    #expect(try policy.file(scratch.path("stats.json")).lastPathComponent == "stats.json")
  }

  @Test func atomicFileMakesParentsAndLeavesNothingOnFailure() throws {
    let registry = CleanupRegistry()
    let target = scratch.url.appendingPathComponent("a/b/stats.json")
    try AtomicFile.write(Data("1".utf8), to: target, registry: registry)
    #expect(bytes(of: target.path) == Array("1".utf8))
    #expect(listing(scratch.url.appendingPathComponent("a/b")) == ["stats.json"])
    #expect(registry.pending == 0)
    // A target that is a folder: the rename fails, the temporary file and new parents go.
    let folder = scratch.folder("c/d")
    scratch.write("c/d/keep", "x")
    #expect(throws: CheckpointError.self) {
      try AtomicFile.write(Data("1".utf8), to: folder, registry: registry)
    }
    #expect(listing(scratch.url.appendingPathComponent("c")) == ["d"])
    #expect(registry.pending == 0)
  }

  /// What an interrupt runs removes the temporary folder and the parents the output made.
  @Test func theCleanupRegistryRemovesUnfinishedOutputs() throws {
    let registry = CleanupRegistry()
    let target = scratch.url.appendingPathComponent("new/deep/out")
    let output = try OutputFolder(target: target, policy: OutputPolicy(), registry: registry)
    try output.write(Data("partial".utf8), as: "model.safetensors")
    #expect(registry.pending == 1)
    registry.runAll()
    #expect(listing(scratch.url) == [])
    #expect(registry.pending == 0)
    // A committed output is no longer the registry's.
    let kept = try OutputFolder(target: target, policy: OutputPolicy(), registry: registry)
    try kept.write(Data("x".utf8), as: "x")
    try kept.commit()
    #expect(registry.pending == 0)
    registry.runAll()
    #expect(listing(target) == ["x"])
  }

  /// A partial no run holds the lock of is removed by the next run; one whose lock is held (a
  /// live run, in any process or PID namespace) stays, whatever its process id says.
  @Test func stalePartialsOfDeadRunsAreRemoved() throws {
    let dead = Process()
    dead.executableURL = URL(fileURLWithPath: "/bin/true")
    try dead.run()
    dead.waitUntilExit()
    let stale = ".out.partial-\(dead.processIdentifier)-1234"
    scratch.write("\(stale)/model.safetensors", "old")
    // The process id of a dead run, but the lock of a live one: it stays.
    let live = ".out.partial-\(dead.processIdentifier)-99"
    scratch.write("\(live)/model.safetensors", "busy")
    let held = try #require(FileNode.lock(scratch.path(live)))
    defer { close(held) }
    // The process id of a live one (this test's parent), but no lock: it goes.
    let unlocked = ".out.partial-\(getppid())-98"
    scratch.write("\(unlocked)/model.safetensors", "left by a killed run")
    let other = ".other.partial-\(dead.processIdentifier)-1"
    scratch.write("\(other)/x", "not ours")
    let output = try OutputFolder(target: scratch.url.appendingPathComponent("out"))
    #expect(!listing(scratch.url).contains(stale))
    #expect(listing(scratch.url).contains(live))
    #expect(!listing(scratch.url).contains(unlocked))
    #expect(listing(scratch.url).contains(other))
    output.discard()
    // Single files too.
    let file = ".stats.json.partial-\(dead.processIdentifier)-7"
    scratch.write(file, "old")
    try AtomicFile.write(Data("{}".utf8), to: scratch.url.appendingPathComponent("stats.json"))
    #expect(!listing(scratch.url).contains(file))
  }

  /// Two --force runs into one folder: each commits its own complete folder; the last one is
  /// what remains, never a mix.
  @Test func concurrentReplacementsNeverMix() throws {
    let target = scratch.folder("out")
    scratch.write("out/old.txt", "old")
    let first = try OutputFolder(target: target, force: true)
    let second = try OutputFolder(target: target, force: true)
    try first.write(Data("1".utf8), as: "first-a")
    try first.write(Data("1".utf8), as: "first-b")
    try second.write(Data("2".utf8), as: "second")
    try first.commit()
    #expect(listing(target) == ["first-a", "first-b"])
    try second.commit()
    #expect(listing(target) == ["second"])
    #expect(listing(scratch.url) == ["out"], "no hidden folder left")
  }

  /// A folder holding only a report's own files is replaced without --force; anything else is
  /// refused.
  @Test func aReportFolderIsReplacedOnlyWhenItHoldsItsOwnFiles() throws {
    let target = scratch.folder("report")
    scratch.write("report/summary.md", "old")
    let own: Set<String> = ["summary.md", "analysis.json"]
    let output = try OutputFolder(target: target, policy: OutputPolicy(), ownFiles: own)
    try output.write(Data("new".utf8), as: "summary.md")
    try output.commit()
    #expect(bytes(of: scratch.path("report/summary.md")) == Array("new".utf8))
    scratch.write("report/notes.txt", "mine")
    expectError(["holds files this does not write"]) {
      _ = try OutputFolder(target: target, policy: OutputPolicy(), ownFiles: own)
    }
    #expect(listing(target) == ["notes.txt", "summary.md"])
  }

  /// Foundation's errors reach the user as a plain reason, never as an NSError dump.
  @Test func fileSystemReasonsArePlainWords() {
    #expect(FileSystemReason.words(CocoaError(.fileWriteOutOfSpace)) == "no space left on device")
    #expect(FileSystemReason.words(CocoaError(.fileWriteNoPermission)) == "permission denied")
    let wrapped = NSError(
      domain: NSCocoaErrorDomain, code: CocoaError.fileWriteUnknown.rawValue,
      userInfo: [NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(EISDIR))])
    #expect(FileSystemReason.words(wrapped) == "is a directory")
    #expect(!FileSystemReason.words(CocoaError(.fileWriteUnknown)).contains("Domain="))
  }
}
