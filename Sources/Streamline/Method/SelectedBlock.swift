import Foundation
import Models

/// The block that goes: states `start` → `end`, and the source layers chosen (one contiguous
/// block, or for `--metric bi` and given layers with plain removal, any layers).
public struct SelectedBlock: Sendable, Equatable {
  public let start: Int
  public let end: Int
  public let layers: [Int]
}
