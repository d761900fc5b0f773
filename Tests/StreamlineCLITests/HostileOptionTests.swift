import ArgumentParser
import Foundation
import Testing

@testable import StreamlineCLI

#if canImport(Glibc)
  import Glibc
#endif

/// Numeric options refused in `validate()` with their flag, before any model is read; model
/// folders holding a FIFO, NaN weights or weights that overflow refused with one clear line.
@Suite struct HostileOptionTests {
  static let hostile: [([String], String)] = [
    (["analyze", "demo", "--remove", "2", "--memory-budget", "nan"], "--memory-budget"),
    (["analyze", "demo", "--remove", "2", "--memory-budget", "inf"], "--memory-budget"),
    (["analyze", "demo", "--remove", "2", "--memory-budget", "1e10"], "--memory-budget"),
    (["analyze", "demo", "--remove", "2", "--memory-budget", "-1"], "--memory-budget"),
    (["analyze", "demo", "--remove", "2", "--samples", "0"], "--samples"),
    (["analyze", "demo", "--remove", "2", "--samples", "9223372036854775807"], "--samples"),
    (["analyze", "demo", "--remove", "2", "--seq-len", "0"], "--seq-len"),
    // One token predicts nothing: a perplexity over 0 tokens would be made up (issue 29).
    (["analyze", "demo", "--remove", "2", "--seq-len", "1"], "--seq-len"),
    (["prune", "demo", "--output", "o", "--remove", "2", "--seq-len", "1"], "--seq-len"),
    (["analyze", "demo", "--remove", "0"], "--remove"),
    (["analyze", "demo", "--sparsity", "nan"], "--sparsity"),
    (["analyze", "demo", "--sparsity", "inf"], "--sparsity"),
    (
      ["prune", "demo", "--output", "o", "--remove", "2", "--train-memory", "nan"], "--train-memory"
    ),
    (
      ["prune", "demo", "--output", "o", "--remove", "2", "--train-memory", "1e10"],
      "--train-memory"
    ),
    (
      ["prune", "demo", "--output", "o", "--remove", "2", "--train-memory", "-3"], "--train-memory"
    ),
    (["prune", "demo", "--output", "o", "--remove", "2", "--lr", "inf"], "--lr"),
    (["prune", "demo", "--output", "o", "--remove", "2", "--lr", "nan"], "--lr"),
    (["prune", "demo", "--output", "o", "--remove", "2", "--min-lr", "inf"], "--min-lr"),
    (["prune", "demo", "--output", "o", "--remove", "2", "--clip", "inf"], "--clip"),
    (
      ["prune", "demo", "--output", "o", "--remove", "2", "--weight-decay", "nan"], "--weight-decay"
    ),
    (
      ["prune", "demo", "--output", "o", "--remove", "2", "--weight-decay", "-1"], "--weight-decay"
    ),
    (["prune", "demo", "--output", "o", "--remove", "2", "--warmup", "nan"], "--warmup"),
    (
      ["prune", "demo", "--output", "o", "--remove", "2", "--val-fraction", "inf"], "--val-fraction"
    ),
    (
      ["prune", "demo", "--output", "o", "--remove", "2", "--heal-lr-scale", "nan"],
      "--heal-lr-scale"
    ),
    (["prune", "demo", "--output", "o", "--remove", "2", "--epochs", "0"], "--epochs"),
    (["prune", "demo", "--output", "o", "--remove", "2", "--micro-batch", "0"], "--micro-batch"),
    (["prune", "demo", "--output", "o", "--remove", "2", "--grad-accum", "-1"], "--grad-accum"),
    (
      ["prune", "demo", "--output", "o", "--remove", "2", "--train-samples", "-1"],
      "--train-samples"
    ),
    (["prune", "demo", "--output", "o", "--remove", "2", "--train-tokens", "0"], "--train-tokens"),
    (
      ["prune", "demo", "--output", "o", "--remove", "2", "--train-tokens", "9223372036854775807"],
      "--train-tokens"
    ),
    (
      ["prune", "demo", "--output", "o", "--remove", "2", "--eval-samples", "-1"], "--eval-samples"
    ),
    (
      ["prune", "demo", "--output", "o", "--remove", "2", "--eval-samples", "9223372036854775807"],
      "--eval-samples"
    ),
    (["prune", "demo", "--output", "o", "--remove", "2", "--blocks", "0"], "--blocks"),
    (["prune", "demo", "--output", "o", "--remove", "2", "--candidates", "0"], "--candidates"),
    (["prune", "demo", "--output", "o", "--remove", "2", "--select", "best"], "--select"),
    (["eval", "demo", "--token-ids", "x", "--batch-rows", "9223372036854775807"], "--batch-rows"),
    (["compare", "demo", "demo", "--speed-tokens", "0"], "--speed-tokens"),
    (["bench", "train", "--steps", "0"], "--steps"),
    (["bench", "choices", "--items", "9223372036854775807"], "--items"),
    (
      [
        "analyze", "demo", "--shard", "9223372036854775806/9223372036854775807", "--save-stats",
        "s.json",
      ], "--shard"
    ),
    (["bench", "forward", "--batch", "9223372036854775807"], "--batch"),
  ]

  /// Refused while parsing (`validate()`): nothing is loaded, nothing runs.
  @Test(arguments: 0..<hostile.count)
  func numericOptionsAreValidatedWithTheirFlag(_ index: Int) {
    let (arguments, flag) = Self.hostile[index]
    do {
      _ = try StreamlineCommand.parseAsRoot(arguments)
      Issue.record("\(arguments) was accepted")
    } catch {
      let text = StreamlineCommand.message(for: error)
      #expect(text.contains(flag), "\(arguments): \(text)")
      #expect(!text.contains("\n"), "\(arguments): \(text)")
    }
  }

  @Test func ordinaryValuesPass() throws {
    _ = try StreamlineCommand.parseAsRoot([
      "prune", "demo", "--output", "o", "--remove", "2", "--lr", "2e-4", "--weight-decay", "0",
      "--memory-budget", "0.5", "--train-memory", "16",
    ])
  }

  /// A copy of the llama fixture, removed when the value goes away.
  final class Model {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "streamline-hostile-model-\(UUID().uuidString)")
    var ids: String { folder.appendingPathComponent("tokens.txt").path }

    init() throws {
      try FileManager.default.copyItem(
        at: HostileConfigTests.fixtures.appendingPathComponent("llama-gqa"), to: folder)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    /// Sets every value of tensor `name` (F32) to `value`.
    func fill(_ name: String, with value: Float) throws {
      let url = folder.appendingPathComponent("model.safetensors")
      var data = try Data(contentsOf: url)
      let length = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
      let header =
        try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as! [String: Any]
      let offsets = (header[name] as! [String: Any])["data_offsets"] as! [Int]
      for offset in stride(from: 8 + length + offsets[0], to: 8 + length + offsets[1], by: 4) {
        withUnsafeBytes(of: value.bitPattern.littleEndian) {
          data.replaceSubrange(offset..<(offset + 4), with: $0)
        }
      }
      try data.write(to: url)
    }
  }

  @Test(arguments: ["model.safetensors", "config.json"])
  func aFIFOInTheModelFolderIsOneLine(_ name: String) throws {
    let model = try Model()
    let path = model.folder.appendingPathComponent(name).path
    try FileManager.default.removeItem(atPath: path)
    #expect(mkfifo(path, 0o600) == 0)
    for command in [
      ["inspect", model.folder.path], ["eval", model.folder.path, "--token-ids", model.ids],
    ] {
      let text = HostileConfigTests.run(command)
      #expect(
        text == "Error: \(path): is a FIFO (named pipe), not a regular file; refusing to read it",
        "\(text ?? "accepted")")
    }
  }

  @Test func nanWeightsAreRefusedNamingTheTensor() throws {
    let model = try Model()
    try model.fill("model.layers.0.mlp.down_proj.weight", with: .nan)
    let text = HostileConfigTests.run(["eval", model.folder.path, "--token-ids", model.ids])
    #expect(
      text?.contains("tensor model.layers.0.mlp.down_proj.weight holds NaN") == true,
      "\(text ?? "accepted")")
  }

  /// Finite weights whose outputs overflow: the perplexity is printed but the exit is a failure.
  @Test func aNonFinitePerplexityFailsTheRun() throws {
    let model = try Model()
    try model.fill("model.norm.weight", with: 3e38)
    let text = HostileConfigTests.run(["eval", model.folder.path, "--token-ids", model.ids])
    #expect(text?.contains("--token-ids perplexity is") == true, "\(text ?? "accepted")")
    #expect(text?.contains("not finite") == true, "\(text ?? "accepted")")
  }
}
