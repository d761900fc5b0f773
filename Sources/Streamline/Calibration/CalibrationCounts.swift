import Crypto
import Evaluation
import Foundation
import Models
import Tokenizers

/// How many sequences of each kind a streamed draw takes.
public struct CalibrationCounts: Sendable, Equatable {
  /// Scored sequences (block importance).
  public var scoring: Int
  /// Held-out sequences for the final perplexity, used by nothing else.
  public var evaluation: Int
  /// Sequences that train (or fit) the replacement.
  public var training: Int
  /// Sequences the pruned model heals on, after the replacement.
  public var healing: Int

  /// `prune`'s defaults, which `analyze --curve` shares so that its maps are fitted on the
  /// sequences `prune --replace linear` fits them on. 128 training sequences, not 64: with one
  /// calibration mix of two domains, 64 left SmolLM2-135M (7 of 30 layers) short of 60%
  /// recovered on held-out code (54%; 128 gives 61%) and training still improving at its last
  /// step; Gemma 3 270M (4 of 18) went from 77% / 83% to 83% / 88%
  /// (benchmarks/compensated/README.md).
  public static let defaultTraining = 128
  public static let defaultEvaluation = 16
  /// Healing's sequences by default.
  public static let defaultHealing = 128

  public init(scoring: Int, evaluation: Int = 0, training: Int = 0, healing: Int = 0) {
    self.scoring = scoring
    self.evaluation = evaluation
    self.training = training
    self.healing = healing
  }

  public var total: Int { scoring + evaluation + training + healing }
}
