import Evaluation
import Foundation
import Models

/// One candidate of the measured selection: its similarity scores, and the KL to the original
/// model (and perplexity) on the validation sequences of the model with the block removed and
/// compensated as the replacement starts out.
public struct MeasuredBlock: Codable, Sendable, Equatable {
  public let start: Int
  public let end: Int
  public let cosine: Double
  public let angular: Double
  /// `linear` when the training-free map folded into a layer compensated the block, `residual`
  /// when it acted on the residual stream after that layer (in memory: the family's MLP output
  /// cannot take it), `none` for plain removal.
  public let compensation: String
  public let kl: Double
  public let perplexity: Double
}
