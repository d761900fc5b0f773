import Foundation
import Testing

@testable import Checkpoint

#if canImport(Glibc)
  import Glibc
#endif

/// Issue 29, the output machinery: a run's outputs committed together or not at all, special
/// files and mount points never followed, replaced or crossed, partial outputs owned by a lock,
/// side files copied as contents.
@Suite struct HostileOutputTests {
  let scratch = Scratch()

  func listing(_ url: URL? = nil) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: (url ?? scratch.url).path)) ?? [])
      .sorted()
  }

  func refusal(_ body: () throws -> Void) -> String? {
    do {
      try body()
      return nil
    } catch {
      return "\(error)"
    }
  }

  // MARK: - One commit for all of a run's outputs

  @Test func aSetCommitsEveryOutputTogether() throws {
    let outputs = OutputSet(policy: OutputPolicy())
    let folder = try outputs.folder(scratch.path("out"), label: "--output")
    try folder.write(Data("{}".utf8), as: "config.json")
    let file = try outputs.file(scratch.path("model.gguf"), label: "--gguf")
    try file.write(Data("gguf".utf8))
    #expect(listing().allSatisfy { $0.hasPrefix(".") }, "nothing in place before the commit")
    try outputs.commit()
    #expect(listing() == ["model.gguf", "out"])
    #expect(listing(folder.target) == ["config.json"])
    #expect(FileManager.default.contents(atPath: scratch.path("model.gguf")) == Data("gguf".utf8))
  }

  /// The last output fails to go in place: the ones committed before it are taken back, and
  /// the folder and file they replaced are as they were.
  @Test func aFailedCommitPutsBackEveryEarlierOutput() throws {
    scratch.write("out/config.json", "old")
    scratch.write("stats.json", "old stats")
    let outputs = OutputSet(policy: OutputPolicy())
    let folder = try outputs.folder(scratch.path("out"), label: "--output", force: true)
    try folder.write(Data("new".utf8), as: "config.json")
    let stats = try outputs.file(scratch.path("stats.json"), label: "--save-stats")
    try stats.write(Data("new stats".utf8))
    let gguf = try outputs.file(scratch.path("model.gguf"), label: "--gguf")
    try gguf.write(Data("gguf".utf8))
    // The GGUF's place turns into a folder while the run works.
    _ = scratch.folder("model.gguf")
    let text = refusal { try outputs.commit() }
    #expect(text?.hasPrefix("--gguf: ") == true, "\(text ?? "committed")")
    #expect(text?.contains(scratch.path("model.gguf")) == true)
    #expect(
      FileManager.default.contents(atPath: scratch.path("out/config.json")) == Data("old".utf8))
    #expect(
      FileManager.default.contents(atPath: scratch.path("stats.json")) == Data("old stats".utf8))
    #expect(listing() == ["model.gguf", "out", "stats.json"], "nothing else left")
    #expect(listing(scratch.url.appendingPathComponent("model.gguf")) == [])
  }

  /// New targets taken back leave nothing, not even the parents made for them.
  @Test func aFailedCommitRemovesNewOutputs() throws {
    let outputs = OutputSet(policy: OutputPolicy())
    let folder = try outputs.folder(scratch.path("new/out"), label: "--output")
    try folder.write(Data("{}".utf8), as: "config.json")
    let file = try outputs.file(scratch.path("report.json"), label: "--report")
    try file.write(Data("r".utf8))
    _ = scratch.folder("report.json")
    #expect(refusal { try outputs.commit() } != nil)
    #expect(listing() == ["report.json"])
  }

  @Test func outputsInsideEachOtherAreRefusedUpFront() throws {
    let outputs = OutputSet(policy: OutputPolicy())
    _ = try outputs.folder(scratch.path("R"), label: "--report")
    let inside = refusal { _ = try outputs.file(scratch.path("R/m.gguf"), label: "--gguf") }
    #expect(inside?.hasPrefix("--gguf: ") == true, "\(inside ?? "accepted")")
    #expect(inside?.contains("inside the --report folder") == true, "\(inside ?? "accepted")")
    let same = refusal { _ = try outputs.file(scratch.path("R"), label: "--gguf") }
    #expect(same != nil)
    let around = OutputSet(policy: OutputPolicy())
    _ = try around.file(scratch.path("R2/m.gguf"), label: "--gguf")
    let holding = refusal { _ = try around.folder(scratch.path("R2"), label: "--report") }
    #expect(holding?.contains("--gguf") == true, "\(holding ?? "accepted")")
    outputs.discard()
    around.discard()
    #expect(listing() == [])
  }

  /// A staged file exists (locked) from the start, so an unwritable place fails before work.
  @Test func aStagedFileIsMadeBeforeAnyWork() throws {
    let outputs = OutputSet(policy: OutputPolicy())
    let file = try outputs.file(scratch.path("a/b/stats.json"), label: "--save-stats")
    #expect(FileNode.kind(file.url.path) == S_IFREG)
    #expect(FileNode.lock(file.url.path) == nil, "the run holds its lock")
    outputs.discard()
    #expect(listing() == [])
  }

  // MARK: - Special files at output paths

  @Test func specialFilesAtOutputPathsAreRefused() throws {
    let fifo = scratch.path("fifo")
    #expect(mkfifo(fifo, 0o600) == 0)
    let link = scratch.path("link.gguf")
    scratch.write("real.gguf", "real")
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "real.gguf")
    let folderLink = scratch.path("folder-link")
    _ = scratch.folder("real-folder")
    try FileManager.default.createSymbolicLink(
      atPath: folderLink, withDestinationPath: "real-folder")
    let policy = OutputPolicy()
    let cases: [(String, Bool, String)] = [
      (fifo, false, "a FIFO"), (link, false, "symbolic link"), ("/dev/null", false, "character"),
      (folderLink, true, "symbolic link"), (fifo, true, "a FIFO"),
    ]
    for (path, isFolder, words) in cases {
      let text = refusal {
        if isFolder { _ = try policy.folder(path, force: true) } else { _ = try policy.file(path) }
      }
      #expect(text?.contains(words) == true, "\(path): \(text ?? "accepted")")
      #expect(text?.contains(path) == true, "\(path): \(text ?? "accepted")")
    }
    // Also when written directly: the node stays what it was.
    #expect(
      refusal { try AtomicFile.write(Data("x".utf8), to: URL(fileURLWithPath: link)) } != nil)
    #expect(FileNode.kind(fifo) == S_IFIFO)
    #expect(FileNode.kind(link) == S_IFLNK)
    #expect(FileManager.default.contents(atPath: scratch.path("real.gguf")) == Data("real".utf8))
  }

  /// A target that becomes a special file while the run works is refused at the commit.
  @Test func aTargetThatTurnsSpecialIsRefusedAtTheCommit() throws {
    let file = try StagedFile(scratch.path("out.jsonl"), policy: OutputPolicy())
    try file.write(Data("x".utf8))
    #expect(mkfifo(scratch.path("out.jsonl"), 0o600) == 0)
    #expect(refusal { try file.commit() }?.contains("FIFO") == true)
    file.discard()
    #expect(FileNode.kind(scratch.path("out.jsonl")) == S_IFIFO)
    #expect(listing() == ["out.jsonl"])
  }

  @Test func aSymbolicLinkLoopAsAParentIsNamedSo() throws {
    try FileManager.default.createSymbolicLink(
      atPath: scratch.path("loop"), withDestinationPath: "loop")
    let text = refusal { _ = try OutputPolicy().file(scratch.path("loop/x.json")) }
    #expect(text?.contains("symbolic link loop") == true, "\(text ?? "accepted")")
    #expect(text?.contains("is a file") == false)
  }

  // MARK: - Removal and locks

  @Test func removalNeverFollowsASymbolicLink() throws {
    scratch.write("outside/precious.txt", "keep")
    scratch.write("doomed/a/b.txt", "x")
    try FileManager.default.createSymbolicLink(
      atPath: scratch.path("doomed/a/link"), withDestinationPath: scratch.path("outside"))
    FileNode.remove(scratch.path("doomed"))
    #expect(listing() == ["outside"])
    #expect(
      FileManager.default.contents(atPath: scratch.path("outside/precious.txt"))
        == Data("keep".utf8))
  }

  /// The lock is the owner: a partial whose lock another open file holds is never removed.
  @Test func aLockedPartialFileIsNotRemoved() throws {
    let stale = ".stats.json.partial-1-1"
    let live = ".stats.json.partial-1-2"
    scratch.write(stale, "old")
    scratch.write(live, "busy")
    let held = try #require(FileNode.lock(scratch.path(live)))
    defer { close(held) }
    try AtomicFile.write(Data("{}".utf8), to: scratch.url.appendingPathComponent("stats.json"))
    #expect(listing() == [live, "stats.json"])
  }

  // MARK: - Side files

  /// A hub cache snapshot's side files are relative links into ../../blobs: copied as contents.
  @Test func sideFilesAreCopiedAsContents() throws {
    scratch.write("blobs/abc", "{\"tokenizer\": 1}")
    _ = scratch.folder("snapshots/rev")
    try FileManager.default.createSymbolicLink(
      atPath: scratch.path("snapshots/rev/tokenizer.json"), withDestinationPath: "../../blobs/abc")
    let output = try OutputFolder(target: scratch.url.appendingPathComponent("out"))
    try output.copyContents(scratch.url.appendingPathComponent("snapshots/rev/tokenizer.json"))
    try output.commit()
    let copied = scratch.path("out/tokenizer.json")
    #expect(FileNode.kind(copied) == S_IFREG)
    #expect(FileManager.default.contents(atPath: copied) == Data("{\"tokenizer\": 1}".utf8))
  }

  @Test func aFIFOSideFileIsRefusedNotRead() throws {
    let fifo = scratch.path("generation_config.json")
    #expect(mkfifo(fifo, 0o600) == 0)
    let output = try OutputFolder(target: scratch.url.appendingPathComponent("out"))
    let text = refusal { try output.copyContents(URL(fileURLWithPath: fifo)) }
    #expect(text?.contains("FIFO") == true, "\(text ?? "copied")")
    output.discard()
    #expect(listing() == ["generation_config.json"])
  }

  // MARK: - The copy pass checks what it copies

  @Test func theCopyPassRefusesNonFiniteValues() throws {
    let values: [Float] = [1, .nan, 3, 4]
    let source = try SafeTensorsWriter.serialize([
      try WritableTensor("w", shape: [4], values: values)
    ])
    scratch.write("in/model.safetensors", source)
    scratch.write("in/config.json", "{}")
    let folder = try ModelFolder(url: scratch.url.appendingPathComponent("in"))
    let output = try OutputFolder(target: scratch.url.appendingPathComponent("out"))
    let text = refusal {
      _ = try CheckpointWriter.save(
        [try WritableTensor(copying: "w", from: folder, checked: true)], to: output.url)
    }
    #expect(text?.contains("tensor w holds NaN") == true, "\(text ?? "copied")")
    #expect(refusal { try folder.requireSound(values: true) } != nil)
    #expect(refusal { try folder.requireSound(values: false) } == nil)
    // Unchecked (a caller that knows), the bytes are copied as they are.
    _ = try CheckpointWriter.save(
      [try WritableTensor(copying: "w", from: folder)], to: output.url)
    output.discard()
  }

  @Test func anIntegerTensorWhereFloatsBelongIsRefused() throws {
    let source = try SafeTensorsWriter.serialize([
      try WritableTensor("w", dtype: .I32, shape: [2], bytes: [1, 0, 0, 0, 2, 0, 0, 0])
    ])
    scratch.write("in/model.safetensors", source)
    scratch.write("in/config.json", "{}")
    let folder = try ModelFolder(url: scratch.url.appendingPathComponent("in"))
    let text = refusal { _ = try WritableTensor(copying: "w", from: folder, checked: true) }
    #expect(text?.contains("tensor w has dtype I32") == true, "\(text ?? "accepted")")
    #expect(refusal { try folder.requireSound(values: false) }?.contains("I32") == true)
  }

  // MARK: - Mount points (root only; skipped elsewhere)

  /// Runs `command`; its exit status.
  @discardableResult
  static func sh(_ command: [String]) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = command
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
  }

  /// Bind-mounts `source` on `target` for `body`, unmounted after; false when not permitted.
  func withBindMount(_ source: String, on target: String, _ body: () throws -> Void) rethrows
    -> Bool
  {
    guard getuid() == 0, Self.sh(["mount", "--bind", source, target]) == 0 else { return false }
    defer { Self.sh(["umount", target]) }
    try body()
    return true
  }

  /// The input model bind-mounted inside the folder `--force` would replace: refused before
  /// anything is touched, and removal never crosses into it either.
  @Test func forceNeverDeletesAcrossAMountPoint() throws {
    scratch.write("model/config.json", "precious")
    scratch.write("o/old.txt", "old")
    _ = scratch.folder("o/model")
    let mounted = try withBindMount(scratch.path("model"), on: scratch.path("o/model")) {
      let text = refusal {
        _ = try OutputPolicy().folder(scratch.path("o"), force: true)
      }
      #expect(text?.contains("mount point") == true, "\(text ?? "accepted")")
      #expect(text?.contains(scratch.path("o/model")) == true, "\(text ?? "accepted")")
      FileNode.remove(scratch.path("o"))
      #expect(
        FileManager.default.contents(atPath: scratch.path("model/config.json"))
          == Data("precious".utf8), "nothing deleted through the mount")
    }
    if mounted { FileNode.remove(scratch.path("o")) }
    #expect(
      FileManager.default.contents(atPath: scratch.path("model/config.json"))
        == Data("precious".utf8))
  }

  @Test func aMountPointIsNeverATarget() throws {
    _ = scratch.folder("src")
    _ = scratch.folder("mnt")
    scratch.write("file-src", "a")
    scratch.write("file-mnt", "b")
    _ = try withBindMount(scratch.path("src"), on: scratch.path("mnt")) {
      let text = refusal { _ = try OutputPolicy().folder(scratch.path("mnt"), force: true) }
      #expect(text?.contains("mount point") == true, "\(text ?? "accepted")")
    }
    _ = try withBindMount(scratch.path("file-src"), on: scratch.path("file-mnt")) {
      let text = refusal { _ = try OutputPolicy().file(scratch.path("file-mnt")) }
      #expect(text?.contains("mount point") == true, "\(text ?? "accepted")")
    }
  }

  @Test func aReadOnlyFileSystemIsRefusedUpFront() throws {
    let folder = scratch.folder("ro")
    guard getuid() == 0,
      Self.sh(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", folder.path]) == 0
    else { return }
    defer { Self.sh(["umount", folder.path]) }
    let text = refusal { _ = try OutputPolicy().file(folder.appendingPathComponent("x.json").path) }
    #expect(text?.contains("read-only") == true, "\(text ?? "accepted")")
  }

  // MARK: - Memory limits

  @Test func aRunThatCannotFitIsRefusedWithTheEstimateAndTheLimit() throws {
    let limits = MemoryLimits(limits: [
      .init(name: "the machine's available memory", bytes: 200 << 20, isAddressSpace: false),
      .init(name: "ulimit -v (RLIMIT_AS) of 300 MiB", bytes: 100 << 20, isAddressSpace: true),
    ])
    // Resident memory fits both; with the mapped checkpoint the address space does not.
    try limits.check(.init(resident: 50 << 20), for: "this prune")
    let text = refusal {
      try limits.check(.init(resident: 50 << 20, mapped: 60 << 20), for: "this prune")
    }
    #expect(
      text?.contains("this prune needs about 110 MiB of address space") == true, "\(text ?? "")")
    #expect(text?.contains("only 100 MiB are left under ulimit -v") == true, "\(text ?? "")")
    #expect(!(text ?? "").contains("\n"))
    let resident = refusal { try limits.check(.init(resident: 300 << 20), for: "this analysis") }
    #expect(resident?.contains("available memory") == true, "\(resident ?? "")")
  }

  @Test func theProcessSizesAreRead() {
    #expect((MemoryLimits.status()["VmSize"] ?? 0) > 1 << 20)
    #expect((MemoryLimits.meminfo()["MemAvailable"] ?? 0) > 1 << 20)
  }
}
