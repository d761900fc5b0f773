import Evaluation
import Foundation
import Models
import Tensors

/// One model on the curve: the source layers it drops and what that costs on held-out text
/// against the original.
public struct CurveCandidate: Codable, Sendable, Equatable {
  /// 0-based source layers removed.
  public let layers: [Int]
  /// The layer the linear map is folded into (nil for plain removal).
  public let mapLayer: Int?
  /// The block's similarity score under the curve's metric (cosine, or angular distance).
  public let score: Double
  public let perplexity: Double
  /// Mean KL(original ‖ candidate) per held-out token, in nats.
  public let kl: Double

  enum CodingKeys: String, CodingKey {
    case layers, score, perplexity, kl
    case mapLayer = "map_layer"
  }
}
