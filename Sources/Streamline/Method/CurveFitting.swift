import Evaluation
import Foundation
import Models
import Tensors

/// How the linear maps were fitted: as `prune --replace linear` fits its one.
public struct CurveFitting: Codable, Sendable, Equatable {
  /// Calibration sequences beyond the scored and held-out ones, and the share of them that
  /// fits the map (the rest is `prune`'s validation split).
  public let trainingSequences: Int
  public let fittingSequences: Int
  public let validationFraction: Double
  /// Passes over the training sequences to capture the states (more when they exceed the
  /// training memory), and whether any went to a scratch file.
  public let capturePasses: Int
  public let spilled: Bool

  enum CodingKeys: String, CodingKey {
    case spilled
    case trainingSequences = "training_sequences"
    case fittingSequences = "fitting_sequences"
    case validationFraction = "validation_fraction"
    case capturePasses = "capture_passes"
  }
}
