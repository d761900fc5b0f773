import ArgumentParser
import Evaluation
import Foundation
import Streamline

struct Eval: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Score a model: mean next-token negative log-likelihood and perplexity.")

  @OptionGroup var model: ModelOptions

  @Option(
    name: .customLong("token-ids"),
    help: "A file of token-id sequences, one per line (space/comma separated or a JSON array).")
  var tokenIds: String

  @OptionGroup var output: OutputOptions

  struct Report: Codable {
    let nll: Double
    let perplexity: Double
    let tokens: Int
    let sequences: Int
  }

  func run() throws {
    let sequences = try TokenIdsFile.read(path: tokenIds)
    let loaded = try model.load(resident: true)
    let progress = Progress("scoring sequences")
    let result = try Perplexity.score(loaded, sequences: sequences) { done, total in
      progress.update(done, of: total)
    }
    let report = Report(
      nll: result.meanNLL, perplexity: result.perplexity, tokens: result.tokens,
      sequences: sequences.count)
    if output.json {
      emit(try Format.json(report))
    } else {
      emit(
        String(
          format: "nll %.6f nats/token · perplexity %.4f · %d predicted tokens in %d sequences",
          report.nll, report.perplexity, report.tokens, report.sequences))
    }
  }
}
