import ArgumentParser
import Checkpoint
import Evaluation
import Foundation
import Models
import Streamline

/// `analyze --curve N`: how far to go. The options that make the curve's linear maps the ones
/// `prune --replace linear` fits carry prune's names and defaults.
struct CurveArguments: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Measure held-out perplexity and KL to the original for every count of layers removed from 1 to N, plain removal beside the training-free linear map (plain removal alone for layers that cannot take the map; needs --heldout).",
      valueName: "N"))
  var curve: Int?

  @Option(
    help: ArgumentHelp(
      "Held-out text for --curve: .txt (one document) or .jsonl (a \"text\" field per line), scored as eval --perplexity scores it.",
      valueName: "file"))
  var heldout: String?

  @Option(
    name: .customLong("heldout-seq-len"),
    help:
      "Window length and stride on --heldout, as eval's --seq-len and --stride (default: --seq-len)."
  )
  var heldoutSeqLen: Int?

  @Option(
    name: .customLong("train-samples"),
    help:
      "Calibration sequences the linear maps are fitted on (default \(CalibrationCounts.defaultTraining), as prune)."
  )
  var trainSamples: Int?

  @Option(
    name: .customLong("train-tokens"),
    help: "Fit on this many tokens' worth of sequences instead, as prune's --train-tokens.")
  var trainTokens: Int?

  @Option(
    name: .customLong("eval-samples"),
    help:
      "prune's held-out calibration sequences (default \(CalibrationCounts.defaultEvaluation)), left out here too so that the maps are fitted on prune's training sequences."
  )
  var evalSamples: Int?

  @Option(
    name: .customLong("val-fraction"),
    help: "prune's validation share of the training sequences, which the map is not fitted on.")
  var valFraction: Double?

  @Option(
    name: .customLong("train-memory"),
    help:
      "GiB of captured states kept in memory before spilling to disk (default \(String(format: "%g", CompressionRequest.defaultTrainingMemoryGiB)))."
  )
  var trainMemory: Double?

  var options: TrainingOptions {
    var options = TrainingOptions()
    if let valFraction { options.validationFraction = valFraction }
    return options
  }

  /// Training sequences of `seqLen` tokens, as prune counts them.
  func sequences(seqLen: Int) -> Int {
    trainTokens.map { max(1, $0 / seqLen) } ?? trainSamples ?? CalibrationCounts.defaultTraining
  }

  func trainMemoryBytes() throws -> Int {
    try checkingFlags {
      try Settings.bytes(
        gibibytes: trainMemory ?? CompressionRequest.defaultTrainingMemoryGiB, .trainingMemory)
    }
  }

  func validate() throws {
    guard let curve else {
      let given = [
        ("--heldout", heldout != nil), ("--heldout-seq-len", heldoutSeqLen != nil),
        ("--train-samples", trainSamples != nil), ("--train-tokens", trainTokens != nil),
        ("--eval-samples", evalSamples != nil), ("--val-fraction", valFraction != nil),
        ("--train-memory", trainMemory != nil),
      ].filter(\.1).map(\.0)
      if !given.isEmpty {
        throw ValidationError("\(given.joined(separator: ", ")) belong to --curve N; give it too")
      }
      return
    }
    guard curve >= 1 else { throw ValidationError("--curve must be at least 1, not \(curve)") }
    guard heldout != nil else {
      throw ValidationError(
        "--curve needs --heldout FILE: the held-out text each model's perplexity is measured on")
    }
    if let heldoutSeqLen {
      try checkCount(heldoutSeqLen, "--heldout-seq-len", in: 1...Int(Int32.max))
    }
    try checkingFlags {
      if let trainTokens { try Settings.integer(trainTokens, .trainingTokens, in: 1...(1 << 50)) }
      if let trainSamples {
        try Settings.integer(trainSamples, .trainingSamples, in: 0...Settings.maximumCount)
      }
      if let evalSamples {
        try Settings.integer(evalSamples, .evaluationSamples, in: 0...Settings.maximumCount)
      }
      try options.validate()
    }
    _ = try trainMemoryBytes()
  }
}
