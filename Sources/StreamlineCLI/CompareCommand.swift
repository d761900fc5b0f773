import ArgumentParser
import Checkpoint
import Evaluation
import Foundation
import Models
import Streamline
import Tensors

struct Compare: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Original beside compressed: size, speed, accuracy, stability, perplexity, KL.")

  @Argument(help: "The original model folder.")
  var original: String

  @Argument(help: "The compressed model folder.")
  var compressed: String

  @Option(help: "Matrix-product precision: f32 or bf16.")
  var precision: Precision = .f32

  @OptionGroup var evaluation: EvaluationOptions

  @Option(help: "Write comparison.md, comparison.json, comparison.svg and both predictions here.")
  var report: String?

  @Option(name: .customLong("speed-tokens"), help: "Tokens in the forward-speed measurement.")
  var speedTokens = 256

  @OptionGroup var output: OutputOptions

  func validate() throws {
    try checkCount(speedTokens, "--speed-tokens", in: 1...(1 << 20))
  }

  /// Library errors are worded with this command's flags here, where the command runs.
  func run() throws {
    try ErrorWording.wording { try execute() }
  }

  func execute() throws {
    var request = ComparisonRequest(original: original, compressed: compressed)
    request.precision = precision.announced
    request.inputs = evaluation.inputs
    request.report = report
    request.speedTokens = speedTokens
    let comparison = try ComparisonJob.run(request)
    emit(output.json ? try Format.jsonNumbers(comparison) : comparison.text)
  }
}
