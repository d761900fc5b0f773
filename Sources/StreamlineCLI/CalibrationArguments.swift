import ArgumentParser
import Foundation
import Models
import Streamline
import Tokenizers

/// Where calibration text comes from and how it is cut.
struct CalibrationArguments: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Calibration data: a .txt file, a .jsonl file (text field or input_ids), or a folder (default for the demo model: its held-out calibration text).",
      valueName: "path"))
  var calibration: String?

  @Option(
    name: .customLong("seq-len"),
    help: "Tokens per calibration sequence (default 512, or the model's context if shorter).")
  var seqLen: Int?

  @Option(help: "Calibration sequences to draw.")
  var samples = 64

  @Option(help: "Seed for drawing the sequences.")
  var seed: UInt64 = 0

  @Flag(name: .customLong("line-docs"), help: "Treat each line of a .txt file as a document.")
  var lineDocs = false

  @Option(name: .customLong("text-field"), help: "The text field of .jsonl calibration files.")
  var textField = "text"

  @Option(
    name: .customLong("memory-budget"),
    help: "GiB of hidden states kept at once while scoring (more passes when exceeded).")
  var memoryBudget = 8.0

  func validate() throws {
    try checkingFlags {
      // A sequence of one token predicts nothing: a held-out perplexity over 0 tokens and a
      // training loss of exactly 0 would be made up.
      if let seqLen { try Settings.integer(seqLen, .sequenceLength, in: 2...Settings.maximumCount) }
      try Settings.integer(samples, .scoringSamples, in: 1...Settings.maximumCount)
      _ = try memoryBudgetBytes()
    }
  }

  /// `--memory-budget` in bytes (checked: NaN, infinity or 1e10 GiB must not reach `Int(_:)`).
  func memoryBudgetBytes() throws -> Int {
    try checkingFlags { try Settings.bytes(gibibytes: memoryBudget, .memoryBudget) }
  }

  /// The library's calibration source the flags make.
  var calibrationSource: CalibrationSource {
    var source = CalibrationSource(path: calibration)
    source.seqLen = seqLen
    source.seed = seed
    source.lineDocuments = lineDocs
    source.textField = textField
    return source
  }

  /// The calibration data: `--calibration`, or the demo model's own.
  func source(_ model: ModelOptions) -> String? {
    calibration ?? (model.isDemo ? DemoModel.calibration.path : nil)
  }
}
