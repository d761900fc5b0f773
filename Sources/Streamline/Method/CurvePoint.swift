import Evaluation
import Foundation
import Models
import Tensors

/// The curve at n layers removed.
public struct CurvePoint: Codable, Sendable, Equatable {
  public let removed: Int
  /// Share of all parameters removed (neither plain removal nor the map adds any).
  public let parameterShare: Double
  /// The best block of n layers by similarity, removed with nothing in its place
  /// (`prune --remove n --replace none`).
  public let plain: CurveCandidate
  /// The best block of n layers starting at layer 1 or later, with the training-free map folded
  /// into the layer before it (`prune --remove n --replace linear`); nil for a family whose
  /// layers cannot take the map (`RemovalCurve.mapUnavailable` says why).
  public let linear: CurveCandidate?
  /// The share of the log-perplexity plain removal loses that the map wins back; nil when plain
  /// removal loses nothing, or without the map.
  public let recovered: Double?

  enum CodingKeys: String, CodingKey {
    case removed, plain, linear, recovered
    case parameterShare = "parameter_share"
  }
}
