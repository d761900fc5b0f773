import Foundation
import Models

/// Next-token negative log-likelihood of token sequences, each scored on its own.
public struct PerplexityResult: Sendable, Equatable {
  /// Summed NLL (nats) and predicted-token count of each sequence.
  public var sequences: [(nll: Double, tokens: Int)]

  public var totalNLL: Double { sequences.reduce(0) { $0 + $1.nll } }
  public var tokens: Int { sequences.reduce(0) { $0 + $1.tokens } }
  /// Mean NLL per predicted token, in nats.
  public var meanNLL: Double { tokens == 0 ? .nan : totalNLL / Double(tokens) }
  public var perplexity: Double { exp(meanNLL) }

  public static func == (a: PerplexityResult, b: PerplexityResult) -> Bool {
    a.sequences.elementsEqual(b.sequences) { $0.nll == $1.nll && $0.tokens == $1.tokens }
  }
}

public enum Perplexity {
  /// Scores every sequence: position t predicts token t + 1.
  public static func score(
    _ model: DecoderModel, sequences: [[Int]], batchTokens: Int = 4096,
    progress: ((Int, Int) -> Void)? = nil
  ) throws -> PerplexityResult {
    var results = [(nll: Double, tokens: Int)](repeating: (0, 0), count: sequences.count)
    let vocabulary = model.config.vocabSize
    var start = 0
    for batch in batches(sequences.map(\.count), limit: batchTokens) {
      let slice = Array(sequences[batch])
      try model.forward(
        slice,
        logits: { s, logits, length in
          let tokens = slice[s]
          var nll = 0.0
          for t in 0..<(length - 1) {
            nll -= LogSoftmax.value(logits + t * vocabulary, count: vocabulary, at: tokens[t + 1])
          }
          results[batch.lowerBound + s] = (nll, length - 1)
        })
      start += slice.count
      progress?(start, sequences.count)
    }
    return PerplexityResult(sequences: results)
  }

  /// Consecutive index ranges whose lengths sum to at most `limit` (or a single longer one).
  static func batches(_ lengths: [Int], limit: Int) -> [Range<Int>] {
    var out: [Range<Int>] = []
    var first = 0
    var rows = 0
    for (i, length) in lengths.enumerated() {
      if i > first && rows + length > limit {
        out.append(first..<i)
        first = i
        rows = 0
      }
      rows += length
    }
    if first < lengths.count { out.append(first..<lengths.count) }
    return out
  }
}

/// Log-probabilities from logits, accumulated in Double.
public enum LogSoftmax {
  /// `log Σ exp(logits)`.
  public static func logSumExp(_ logits: UnsafePointer<Float>, count: Int) -> Double {
    var maximum = -Float.infinity
    for i in 0..<count { maximum = max(maximum, logits[i]) }
    var sum = 0.0
    for i in 0..<count { sum += Double(expf(logits[i] - maximum)) }
    return Double(maximum) + log(sum)
  }

  /// The whole row of log-probabilities, into `out`.
  public static func row(
    _ logits: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Double>
  ) {
    let normaliser = logSumExp(logits, count: count)
    for i in 0..<count { out[i] = Double(logits[i]) - normaliser }
  }

  /// `log softmax(logits)[index]`.
  public static func value(_ logits: UnsafePointer<Float>, count: Int, at index: Int) -> Double {
    var maximum = -Float.infinity
    for i in 0..<count { maximum = max(maximum, logits[i]) }
    var sum = 0.0
    for i in 0..<count { sum += exp(Double(logits[i] - maximum)) }
    return Double(logits[index] - maximum) - log(sum)
  }
}
