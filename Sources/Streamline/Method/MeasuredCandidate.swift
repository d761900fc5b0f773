import Checkpoint
import Foundation
import Models
import Tensors

/// A candidate of one step's measured selection in source-layer numbers: its block's layers (a
/// replacement layer's block starts with the layer it replaces), similarity, compensation and
/// measured KL, as `MeasuredBlock` gives them on the model pruned so far.
public struct MeasuredCandidate: Codable, Sendable, Equatable {
  public let layers: [Int]
  public let cosine: Double
  public let angular: Double
  public let compensation: String
  public let kl: Double
  public let perplexity: Double

  init(_ block: MeasuredBlock, sourceLayers: [Int]) {
    layers = (block.start..<block.end).map { sourceLayers[$0] }
    cosine = block.cosine
    angular = block.angular
    compensation = block.compensation
    kl = block.kl
    perplexity = block.perplexity
  }
}
