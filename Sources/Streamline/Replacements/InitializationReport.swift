import Foundation
import Models
import Tensors

/// What the initialisation chose and why.
public struct InitializationReport: Codable, Sendable {
  public let requested: ReplacementInit
  public let chosen: ReplacementInit
  /// Each candidate's validation loss (the training loss, before any step).
  public let validation: [String: Double]
  /// The merge's weight of each block layer, for `merge` (scored or chosen).
  public let mergeWeights: [Double]?

  enum CodingKeys: String, CodingKey {
    case requested, chosen, validation
    case mergeWeights = "merge_weights"
  }
}
