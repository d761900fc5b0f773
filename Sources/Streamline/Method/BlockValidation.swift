import Checkpoint
import Foundation
import Models

/// A replaced block's validation loss: `loss` names it, `before` is the block's own starting
/// point (plain removal for the map, the initialised layer for training), `after` the result.
public struct BlockValidation: Codable, Sendable, Equatable {
  public let loss: String
  public let before: Double
  public let after: Double
}
