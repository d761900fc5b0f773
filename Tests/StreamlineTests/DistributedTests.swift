import Foundation
import Testing

@testable import Streamline

/// `analyze --shard I/N --save-stats` in separate processes of the built binary, merged with
/// `analyze --merge`, against one process scoring everything.
@Suite struct DistributedTests {
  static let packageRoot = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
  static let binary = packageRoot.appendingPathComponent(".build/debug/streamline")

  func arguments(_ extra: [String]) -> [String] {
    [
      "analyze", Fixtures.model("llama-gqa").path, "--calibration",
      Fixtures.root.appendingPathComponent("replacement/calibration.jsonl").path,
      "--seq-len", "24", "--samples", "13", "--seed", "7",
    ] + extra
  }

  func start(_ arguments: [String]) throws -> (Process, Pipe) {
    let process = Process()
    process.executableURL = Self.binary
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    return (process, out)
  }

  func finish(_ started: (Process, Pipe)) -> (status: Int32, output: String) {
    let data = started.1.fileHandleForReading.readDataToEndOfFile()
    started.0.waitUntilExit()
    return (started.0.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  @Test(.enabled(if: FileManager.default.fileExists(atPath: binary.path)))
  func shardsInSeparateProcessesMergeBitIdentically() throws {
    let folder = Fixtures.temporary("shards")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let single = folder.appendingPathComponent("single.json").path
    let whole = finish(
      try start(arguments(["--remove", "2", "--json", "--save-stats", single])))
    #expect(whole.status == 0)

    // Three shards at once, as three machines would.
    let shards = (0..<3).map { folder.appendingPathComponent("shard-\($0).json").path }
    let running = try (0..<3).map {
      try start(arguments(["--shard", "\($0)/3", "--save-stats", shards[$0]]))
    }
    for process in running { #expect(finish(process).status == 0) }
    let merged = finish(
      try start(arguments(["--remove", "2", "--json", "--merge"] + shards.reversed())))
    #expect(merged.status == 0)
    #expect(merged.output == whole.output, "merged analysis differs from one process's")
    let one = try ScoringStats.load(single)
    let parts = try shards.map { (path: $0, stats: try ScoringStats.load($0)) }
    #expect(try ScoringStats.merge(parts).sums == one.sums)
    #expect(parts.map(\.stats.sums.samples) == [4, 4, 5])

    // A shard of another seed is refused in one line, with a non-zero status.
    let stray = folder.appendingPathComponent("stray.json").path
    var other = arguments(["--shard", "2/3", "--save-stats", stray])
    other[other.firstIndex(of: "7")!] = "8"
    #expect(finish(try start(other)).status == 0)
    let refused = finish(
      try start(arguments(["--remove", "2", "--merge", shards[0], shards[1], stray])))
    #expect(refused.status != 0)
  }
}
