import Foundation
import Models
import Tensors

/// The layers next to the block that train with the replacement (`--heal-neighbors`), at a
/// smaller learning rate: `before` runs on h_start−1 ahead of it, `after` is the first layer
/// above the block, taken out of the frozen top (so only with `lm` and `kd`).
public struct HealedNeighbors {
  public let before: (any DecoderLayer)?
  public let after: (any DecoderLayer)?
  public let rateScale: Double

  public init(before: (any DecoderLayer)?, after: (any DecoderLayer)?, rateScale: Double) {
    self.before = before
    self.after = after
    self.rateScale = rateScale
  }
}
