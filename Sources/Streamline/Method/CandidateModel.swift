import Checkpoint
import Evaluation
import Foundation
import Models
import Tensors

/// One model measured against the reference: `model` run through `layers` (all when nil),
/// `substitutes[i]` in place of layer i.
public struct CandidateModel {
  public let model: DecoderModel
  public let layers: [Int]?
  public let substitutes: [Int: any DecoderLayer]

  public init(
    _ model: DecoderModel, layers: [Int]? = nil, substitutes: [Int: any DecoderLayer] = [:]
  ) {
    self.model = model
    self.layers = layers
    self.substitutes = substitutes
  }
}
