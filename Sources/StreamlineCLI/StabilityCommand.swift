import ArgumentParser
import Checkpoint
import Evaluation
import Foundation
import Models
import Streamline
import Tensors

struct Stability: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Stability of a compressed model's answers against the original's, per task.",
    discussion: """
      Reads two predictions files written by `streamline eval --task ... --predictions`. \
      Stability (Chen et al., ICLR 2025): items where the compressed model is right exactly when \
      the original is, each weighted by softmax over items of the population standard deviation \
      of the original's per-token mean choice NLLs. Also plain agreement (same prediction) and \
      both accuracies.
      """)

  @Option(help: "Predictions of the original model.")
  var original: String

  @Option(help: "Predictions of the compressed model.")
  var compressed: String

  @OptionGroup var output: OutputOptions

  func run() throws {
    let results = try StabilityResult.compare(
      original: try PredictionsFile.read(path: original), originalPath: original,
      compressed: try PredictionsFile.read(path: compressed), compressedPath: compressed)
    if output.json {
      emit(try Format.jsonNumbers(results))
      return
    }
    var lines = ["task            items  stability  agreement  original acc  compressed acc"]
    for r in results {
      lines.append(
        r.task.padding(toLength: 15, withPad: " ", startingAt: 0)
          + String(
            format: " %5d    %6.2f%%    %6.2f%%       %6.2f%%         %6.2f%%", r.items,
            r.stability * 100, r.agreement * 100, r.originalAcc * 100, r.compressedAcc * 100))
    }
    emit(lines.joined(separator: "\n"))
  }
}
