import Evaluation
import Foundation
import Models
import Tensors

/// `streamline bench choices`: a 4-choice task of HellaSwag's shape scored on random weights,
/// once with each context computed once for its choices and once with every choice as its own
/// full sequence (what a plain loglikelihood backend does).
public struct ChoiceBenchmark: Codable, Sendable {
  public let items: Int
  public let choices: Int
  public let contextTokens: Int
  public let continuationTokens: Int
  public let sharedSeconds: Double
  public let fullSeconds: Double
  public let speedup: Double
  /// Largest |Δ log-likelihood| between the two ways (they compute the same numbers).
  public let maxDifference: Double

  enum CodingKeys: String, CodingKey {
    case items, choices, speedup
    case contextTokens = "context_tokens"
    case continuationTokens = "continuation_tokens"
    case sharedSeconds = "shared_seconds"
    case fullSeconds = "full_seconds"
    case maxDifference = "max_difference"
  }

  /// The token pairs of the benchmark: deterministic, so tools/bench_choices_hf.py scores the
  /// very same requests with lm-eval (an xorshift64* stream reproduced there).
  public static func requests(
    items: Int, choices: Int, contextTokens: Int, continuationTokens: Int, vocabulary: Int
  ) -> [[(context: [Int], continuation: [Int])]] {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> Int {
      // xorshift64*, reproduced in the Python script.
      state ^= state >> 12
      state ^= state << 25
      state ^= state >> 27
      return Int((state &* 2_685_821_657_736_338_717) >> 33) % vocabulary
    }
    return (0..<items).map { _ in
      let context = (0..<contextTokens).map { _ in next() }
      return (0..<choices).map { _ in (context, (0..<continuationTokens).map { _ in next() }) }
    }
  }

  public static func run(
    config: any Architecture, precision: Precision, items: Int, choices: Int, contextTokens: Int,
    continuationTokens: Int, progress: Progress? = nil
  ) throws -> ChoiceBenchmark {
    let model = DecoderModel(randomWeights: config, precision: precision)
    let requests = Self.requests(
      items: items, choices: choices, contextTokens: contextTokens,
      continuationTokens: continuationTokens, vocabulary: config.vocabSize)
    var scorer = MultipleChoiceScorer(model: model, maxLength: 1 << 20)
    try model.forward([[1, 2, 3, 4]], logits: { _, _, _ in })  // warm-up
    var start = Date()
    let shared = try scorer.score(tokens: requests) { done, total in
      progress?.update(done, of: 2 * total)
    }
    let sharedSeconds = Date().timeIntervalSince(start)
    scorer.shareContext = false
    start = Date()
    let full = try scorer.score(tokens: requests) { done, total in
      progress?.update(total + done, of: 2 * total)
    }
    let fullSeconds = Date().timeIntervalSince(start)
    let difference = zip(shared.joined(), full.joined()).map { abs($0 - $1) }.max() ?? 0
    return ChoiceBenchmark(
      items: items, choices: choices, contextTokens: contextTokens,
      continuationTokens: continuationTokens, sharedSeconds: sharedSeconds,
      fullSeconds: fullSeconds, speedup: fullSeconds / sharedSeconds, maxDifference: difference)
  }

  public var text: String {
    String(
      format:
        "%d items × %d choices (context %d tokens, continuations %d tokens each)\n"
        + "shared context: %.2f s (%.2f items/s)\n"
        + "every choice as a full sequence: %.2f s (%.2f items/s)\n"
        + "speed-up ×%.2f · largest log-likelihood difference %.2e",
      items, choices, contextTokens, continuationTokens, sharedSeconds,
      Double(items) / sharedSeconds, fullSeconds, Double(items) / fullSeconds, speedup,
      maxDifference)
  }
}
