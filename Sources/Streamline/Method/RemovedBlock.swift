import Checkpoint
import Foundation
import Models
import Tensors

/// One block removed, in source-layer numbers, and how it scored when chosen.
public struct RemovedBlock: Codable, Sendable, Equatable {
  public let layers: [Int]
  /// Cosine and angular scores of the block on the model as pruned so far.
  public let cosine: Double
  public let angular: Double
  /// What took its place (nil for plain removal), the source layer a trained replacement was
  /// written over, and its validation loss before and after it was made (the training
  /// objective's, or the map's MSE against plain removal's).
  public var replacement: ReplacementKind? = nil
  public var replacedLayer: Int? = nil
  public var validation: BlockValidation? = nil
  /// The earlier blocks' replacement layers that trained again with this one.
  public var trainedAbove: [Int]? = nil
  /// With measured selection, the candidates this block was chosen from.
  public var measured: [MeasuredCandidate]? = nil

  enum CodingKeys: String, CodingKey {
    case layers, cosine, angular, replacement, validation, measured
    case replacedLayer = "replaced_layer"
    case trainedAbove = "trained_above"
  }
}
