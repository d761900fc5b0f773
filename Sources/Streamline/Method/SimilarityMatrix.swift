import Foundation
import Models
import Tensors

/// Token-averaged similarity between every pair of hidden states, from one streamed pass.
///
/// States are numbered 0...L: 0 is the embeddings, i the residual stream after layer i (before
/// the final norm). `cosine[i][j]` is the mean over every token of every sequence of
/// cos(h_i[t], h_j[t]); `angular[i][j]` the mean of arccos(cos)/π (Gromov et al.).
public struct SimilarityMatrix: Codable, Sendable, Equatable {
  public let numLayers: Int
  public let tokens: Int
  public let samples: Int
  public let cosine: [[Double]]
  public let angular: [[Double]]

  /// ShortGPT's Block Influence of each layer: 1 − mean cos(h_i, h_{i+1}).
  public var layerBI: [Double] { (0..<numLayers).map { 1 - cosine[$0][$0 + 1] } }
}
