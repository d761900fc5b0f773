import Checkpoint
import Evaluation
import Foundation
import Models
import Tensors

/// What a candidate costs against the original model on the same windows: the perplexity of
/// their targets and KL(original ‖ candidate) over the same rows, as `eval --perplexity
/// --reference` defines both.
public struct CandidateLoss: Codable, Sendable, Equatable {
  public let perplexity: Double
  /// Mean KL(original ‖ candidate) per scored token, in nats.
  public let kl: Double
  public let tokens: Int
}
