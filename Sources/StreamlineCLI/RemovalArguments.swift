import ArgumentParser
import Foundation
import Models
import Streamline
import Tokenizers

/// How many layers go, how they are chosen and what replaces them.
struct RemovalArguments: ParsableArguments {
  @Option(help: "Remove this many layers.")
  var remove: Int?

  @Option(help: "Remove this share of all parameters (0 < S < 1), net of the replacement.")
  var sparsity: Double?

  @Option(help: "Redundancy metric: cosine (LLM-Streamline), angular or bi (ShortGPT).")
  var metric: ImportanceMetric = .cosine

  @Option(
    help:
      "What replaces the block: layer (a trained decoder layer), ffn (a trained MLP), linear (training-free map) or none."
  )
  var replace: ReplacementKind = .layer

  var request: RemovalRequest? {
    if let remove { return .layers(remove) }
    if let sparsity { return .sparsity(sparsity) }
    return nil
  }

  func validate() throws {
    try checkingFlags { try request?.validate() }
    if remove != nil && sparsity != nil {
      throw ValidationError("give either --remove or --sparsity, not both")
    }
    // The library's rule, checked here too so that the mistake is reported before any work.
    do {
      try Importance.checkMetric(metric, replacement: replace)
    } catch {
      throw ValidationError(ErrorWording.text(error))
    }
  }
}
