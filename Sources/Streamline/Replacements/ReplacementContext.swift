import Checkpoint
import Foundation
import Models
import Tensors

/// What making a replacement has to hand.
public struct ReplacementContext {
  public let folder: ModelFolder
  public let config: any Architecture
  public let precision: Precision
  public let block: SelectedBlock
  public let request: CompressionRequest
  /// The captured states `states(...)` asked for (nil when none were).
  public let store: StateStore?
  /// The training sequences the states are of, rows laid end to end.
  public let training: [[Int]]
  public let progress: (String) -> Progress

  public var start: Int { block.start }
  public var end: Int { block.end }
  public var lengths: [Int] { training.map(\.count) }
  public var options: TrainingOptions { request.training }
}
