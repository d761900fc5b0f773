import Foundation
import Streamline
import Testing

@testable import StreamlineCLI

/// `analyze --curve N`: one command, checked against `prune` and `eval` at two of its points.
@Suite(.serialized) struct CurveCommandTests {
  static let root = OutputSafetyTests.root
  static let binary = OutputSafetyTests.binary

  /// A scratch folder with a small held-out file: a few lines of the demo's evaluation text.
  final class Scratch {
    let url: URL
    var heldout: String { url.appendingPathComponent("heldout.jsonl").path }

    init() throws {
      url = FileManager.default.temporaryDirectory.appendingPathComponent(
        "streamline-curve-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
      let text = try String(
        contentsOf: CurveCommandTests.root.appendingPathComponent("demo/data/eval.txt"),
        encoding: .utf8)
      let lines = text.split(separator: "\n").prefix(3).map { line in
        // Two short documents per chapter, a few hundred tokens in all.
        String(String(line).prefix(400))
      }
      let records = try lines.map { line in
        String(decoding: try JSONSerialization.data(withJSONObject: ["text": line]), as: UTF8.self)
      }
      try Data((records.joined(separator: "\n") + "\n").utf8).write(
        to: URL(fileURLWithPath: heldout))
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
  }

  /// Runs the built binary; its exit status, standard output and standard error.
  static func run(_ arguments: [String], in folder: URL) throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    process.currentDirectoryURL = folder
    // Standard output goes to a file, so that neither stream can fill a pipe and block.
    let outputURL = folder.appendingPathComponent(".stdout-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: outputURL.path, contents: nil)
    let output = try FileHandle(forWritingTo: outputURL)
    defer { try? FileManager.default.removeItem(at: outputURL) }
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let err = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try output.close()
    return (
      process.terminationStatus,
      String(decoding: try Data(contentsOf: outputURL), as: UTF8.self),
      String(decoding: err, as: UTF8.self)
    )
  }

  static func json(_ text: String) throws -> [String: Any] {
    try #require(
      try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "JSON: \(text)")
  }

  /// The calibration the curve and prune share: small, so the test is quick.
  static let calibration = [
    "--seq-len", "32", "--samples", "4", "--train-samples", "8", "--eval-samples", "2",
  ]

  /// The curve at two points equals `prune --remove n` (plain, and `--replace linear`) scored
  /// by `eval --perplexity --reference`: perplexity within 1e-5 relative (the same sums of
  /// Float32 products in another order: other rows per product). KL within that plus what eval's
  /// own rounding adds: it keeps the original's log-probabilities as Float32, each off by at most
  /// 2^-24 of its magnitude, so KL = Σ p·(log p − log q) moves by at most 2^-24·Σ p·|log p|, the
  /// original's entropy, for which its mean NLL on the same tokens stands in (measured: 9e-7 and
  /// 1e-7 relative here, 1.5e-7 on SmolLM2-135M).
  @Test func twoPointsEqualPruneThenEval() throws {
    let scratch = try Scratch()
    let (status, out, err) = try Self.run(
      [
        "analyze", "demo", "--curve", "3", "--heldout", scratch.heldout, "--json", "--report",
        "report",
      ] + Self.calibration, in: scratch.url)
    #expect(status == 0, "\(err)")
    let curve = try Self.json(out)
    let points = try #require(curve["points"] as? [[String: Any]])
    #expect(points.count == 3)
    let heldOut = try #require(curve["held_out"] as? [String: Any])
    #expect(heldOut["seq_len"] as? Int == 32)
    for name in ["analysis.json", "summary.md", "curve.svg"] {
      #expect(FileManager.default.fileExists(atPath: scratch.path("report/\(name)")), "\(name)")
    }

    for (n, kind) in [(2, "none"), (3, "linear")] {
      let output = "pruned-\(kind)"
      let (pruned, _, pruneErrors) = try Self.run(
        ["prune", "demo", "--remove", "\(n)", "--replace", kind, "--output", output, "--json"]
          + Self.calibration, in: scratch.url)
      #expect(pruned == 0, "\(pruneErrors)")
      let (evaluated, evalOut, evalErrors) = try Self.run(
        [
          "eval", output, "--perplexity", scratch.heldout, "--seq-len", "32", "--stride", "32",
          "--reference", "demo", "--json",
        ], in: scratch.url)
      #expect(evaluated == 0, "\(evalErrors)")
      let eval = try Self.json(evalOut)
      let perplexity = try #require(
        (eval["perplexity"] as? [String: Any])?["perplexity"] as? Double)
      let divergence = try #require(eval["divergence"] as? [String: Any])
      let kl = try #require(divergence["kl_mean"] as? Double)
      let original = try #require(
        (divergence["reference"] as? [String: Any])?["perplexity"] as? Double)
      let point = try #require(points[n - 1][kind == "none" ? "plain" : "linear"] as? [String: Any])
      let curvePerplexity = try #require(point["perplexity"] as? Double)
      let curveKL = try #require(point["kl"] as? Double)
      #expect(
        abs(curvePerplexity / perplexity - 1) < 1e-5,
        "n \(n) \(kind): \(curvePerplexity) vs \(perplexity)")
      let originalNLL = try #require(
        (divergence["reference"] as? [String: Any])?["nll"] as? Double)
      #expect(
        abs(curveKL - kl) <= 1e-5 * kl + 0x1p-24 * originalNLL,
        "n \(n) \(kind): \(curveKL) vs \(kl)")
      #expect(abs((curve["original"] as? Double ?? .nan) / original - 1) < 1e-5)
      // The layers the curve names are the ones prune removed.
      let manifest = try Self.json(
        try String(contentsOfFile: scratch.path("\(output)/streamline.json"), encoding: .utf8))
      let block = try #require(manifest["block"] as? [String: Int])
      #expect(Array(block["start"]!..<block["end"]!) == point["layers"] as? [Int])
    }
  }

  /// Each mistake is one line naming the flag, and the command fails.
  @Test func badRequestsFailWithOneLine() throws {
    let scratch = try Scratch()
    let cases: [([String], String)] = [
      (["--curve", "3"], "--curve needs --heldout"),
      (["--curve", "12", "--heldout", scratch.heldout], "--curve 12: the model has 12 layers"),
      (["--curve", "0", "--heldout", scratch.heldout], "--curve must be at least 1"),
      (["--heldout", scratch.heldout], "--heldout belong to --curve N"),
      (["--curve", "2", "--heldout", scratch.heldout, "--remove", "2"], "without --remove"),
      (
        ["--curve", "2", "--heldout", scratch.heldout, "--replace", "none", "--metric", "bi"],
        "not bi"
      ),
      (["--curve", "2", "--heldout", scratch.path("missing.jsonl")], "missing.jsonl"),
      (
        ["--curve", "2", "--heldout", scratch.heldout, "--train-samples", "1"],
        "--train-samples of at least 2"
      ),
    ]
    for (arguments, words) in cases {
      let (status, out, err) = try Self.run(
        ["analyze", "demo"] + arguments + ["--seq-len", "32", "--samples", "2"], in: scratch.url)
      #expect(status != 0, "\(arguments) fails")
      #expect(out.isEmpty, "\(arguments): nothing on stdout")
      let first = err.split(separator: "\n").first.map(String.init) ?? ""
      #expect(first.hasPrefix("Error: ") && first.contains(words), "\(arguments): \(err)")
      // One line, or one line and the usage for a flag that does not parse.
      #expect(
        err.split(separator: "\n").count == 1 || err.contains("Usage: streamline analyze"),
        "\(arguments): \(err)")
    }
  }

  /// The curve fits its maps as prune does only with prune's defaults.
  @Test func theCurveUsesPrunesDefaults() throws {
    let prune = try #require(
      try StreamlineCommand.parseAsRoot(["prune", "demo", "--remove", "2", "--output", "x"])
        as? Prune)
    let curve = try CurveArguments.parse([])
    for seqLen in [64, 512] {
      #expect(prune.training.sequences(seqLen: seqLen) == curve.sequences(seqLen: seqLen))
    }
    #expect(prune.evalSamples == CalibrationCounts.defaultEvaluation)
    #expect(prune.training.valFraction == curve.options.validationFraction)
    #expect(try prune.training.trainMemoryBytes() == curve.trainMemoryBytes())
  }
}
