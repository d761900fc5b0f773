import Crypto
import Evaluation
import Foundation
import Models
import Tokenizers

/// Scoring, held-out and training sequences drawn from one calibration source in one stream.
public struct CalibrationDraw: Sendable {
  public let scoring: [[Int]]
  public let evaluation: [[Int]]
  public let training: [[Int]]
  public let healing: [[Int]]
  /// Sequences the source cuts into, and its tokens and documents.
  public let poolSequences: Int
  public let availableTokens: Int
  public let documents: Int
  /// SHA-256 of the input files' bytes and the cutting options (seq_len, seed, draw), not of the
  /// counts: shards and `prune` that share a source and seed share it.
  public let sha256: String
  public let description: String
}
