/// Impossible requests and unusable inputs of the compression commands, one clear line each.
public enum StreamlineError: Error, CustomStringConvertible, Equatable {
  case calibration(path: String, reason: String)
  case badRequest(String)
  /// Calibration data too short for the sequences asked for.
  case tooFewCalibrationSequences(
    path: String, tokens: Int, sequences: Int, seqLen: Int, counts: CalibrationCounts)
  /// Sequences shorter than two tokens: one token predicts nothing.
  case sequenceLength(Int)
  /// A shard that is not "I/N" with 0 ≤ I < N.
  case shardSpecification(String)
  /// A file that is not saved scoring statistics.
  case notScoringStatistics(path: String)
  /// Scoring statistics computed with another sequence length or seed than the run's.
  case statisticsOfOtherRun(seqLen: Int, seed: UInt64)
  /// Scoring statistics computed on other calibration data than `source`.
  case statisticsOfOtherCalibration(source: String)
  /// Scoring or training without calibration data.
  case calibrationRequired
  /// A shard of the scored sequences that holds none of them.
  case emptyShard(String, samples: Int)
  /// Two models whose tokenizers differ, where both must score the same tokens.
  case tokenizersDiffer(original: String, compressed: String)

  public var description: String {
    switch self {
    case .calibration(let path, let reason): return "\(path): \(reason)"
    case .badRequest(let reason): return reason
    case .tooFewCalibrationSequences(let path, let tokens, let sequences, let seqLen, let counts):
      return
        "\(path): \(tokens) tokens make \(sequences) sequences of \(seqLen), but \(counts.total) are asked for (\(counts.scoring) scored, \(counts.evaluation) held out, \(counts.training) training\(counts.healing > 0 ? ", \(counts.healing) healing" : ""); ask for fewer or shorter sequences, or give more text)"
    case .sequenceLength(let seqLen):
      return
        "sequences must be at least 2 tokens long (a sequence of one token predicts nothing), not \(seqLen)"
    case .shardSpecification(let text):
      return "shard \(text): expected I/N with 0 ≤ I < N, e.g. 0/4 for the first of four"
    case .notScoringStatistics(let path):
      return "\(path): not a streamline scoring-statistics file (saved scoring statistics)"
    case .statisticsOfOtherRun(let seqLen, let seed):
      return
        "the scoring statistics were computed with sequences of \(seqLen) tokens and seed \(seed); use the same here"
    case .statisticsOfOtherCalibration(let source):
      return
        "the scoring statistics were computed on other calibration data (or another seed or sequence length) than \(source)"
    case .calibrationRequired:
      return "calibration data is required to score layers or train a replacement"
    case .emptyShard(let shard, let samples):
      return "shard \(shard): \(samples) sequences leave this shard empty; use fewer shards"
    case .tokenizersDiffer(let original, let compressed):
      return
        "the compressed model's tokenizer (\(compressed)) differs from the original's (\(original)); perplexity and KL divergence score both models on the same tokens"
    }
  }
}
