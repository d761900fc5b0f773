import ArgumentParser
import Foundation
import Testing

@testable import StreamlineCLI

@Suite struct ExportCommandTests {
  static let model = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../Fixtures/eval/models/llama").standardized.path

  func message(_ arguments: [String]) -> String? {
    do {
      _ = try StreamlineCommand.parseAsRoot(arguments)
      return nil
    } catch {
      return StreamlineCommand.fullMessage(for: error)
    }
  }

  @Test func exportParsesItsTypesAndRefusesUnsafeTargets() throws {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
      "streamline-export-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let target = scratch.appendingPathComponent("m.gguf").path
    let export = try #require(
      try StreamlineCommand.parseAsRoot([
        "export", Self.model, "--gguf", target, "--type", "q8_0",
      ]) as? Export)
    #expect(export.type == .q8_0)
    #expect(message(["export", Self.model, "--gguf", target, "--type", "q4_0"]) != nil)
    // Blank, inside the model folder, onto a folder, or onto an existing file without --force:
    // refused before any work by the output policy, naming the flag.
    let inside = message(["export", Self.model, "--gguf", Self.model + "/m.gguf"])
    #expect(
      inside?.contains("--gguf") == true
        && inside?.contains("inside the input model folder") == true)
    #expect(message(["export", Self.model, "--gguf", ""])?.contains("no path given") == true)
    #expect(
      message(["export", Self.model, "--gguf", scratch.path])?.contains("is a folder") == true)
    try Data("x".utf8).write(to: URL(fileURLWithPath: target))
    #expect(message(["export", Self.model, "--gguf", target])?.contains("--force") == true)
    #expect(message(["export", Self.model, "--gguf", target, "--force"]) == nil)
  }

  @Test func exportWritesAGGUFFile() throws {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
      "streamline-export-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let target = scratch.appendingPathComponent("m.gguf").path
    var export = try #require(
      try StreamlineCommand.parseAsRoot(["export", Self.model, "--gguf", target, "--json"])
        as? Export)
    try export.run()
    let head = try #require(FileManager.default.contents(atPath: target)).prefix(4)
    #expect(Array(head) == Array("GGUF".utf8))
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["m.gguf"])
  }

  @Test func pruneChecksItsGGUFTargetBeforeWorking() throws {
    let output = FileManager.default.temporaryDirectory.appendingPathComponent(
      "streamline-prune-\(UUID().uuidString)"
    ).path
    let refused = message([
      "prune", Self.model, "--layers", "1-2", "--replace", "none", "--output", output,
      "--gguf", output + "/inside.gguf", "--eval-samples", "0",
    ])
    #expect(refused?.contains("--gguf") == true)
    #expect(!FileManager.default.fileExists(atPath: output))
  }
}
