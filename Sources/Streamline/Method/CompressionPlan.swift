import Checkpoint
import Foundation
import Models
import Tensors

/// The block chosen, what replaces it, and the record of how.
public struct CompressionPlan {
  public let analysis: Analysis?
  /// The scored block: states `start` → `end`.
  public let start: Int
  public let end: Int
  /// Source layers dropped from the checkpoint.
  public let removed: [Int]
  /// The layers plain removal drops for the held-out baseline: the same ones the checkpoint
  /// loses, nothing in their place, so the baseline has exactly as many layers as the pruned
  /// model. Dropping the whole replaced block (one layer more) would flatter the replacement.
  public var plainRemovalBaseline: [Int] { removed }
  public internal(set) var overrides: [String: Surgery.Override]
  public let training: TrainingReport?
  /// Validation MSE of the linear map, and of plain removal, for `linear`.
  public let linearFit: [String: Double]?
  public var capture: CaptureReport? = nil
  /// Every block removed, in order (with `blocks` > 1).
  public var blocks: [RemovedBlock]? = nil
  /// What healed after the replacement.
  public var healing: HealingReport? = nil

  /// The source layers holding trained replacements.
  var hosts: [Int] {
    if let blocks { return blocks.compactMap(\.replacedLayer) }
    return training == nil ? [] : [start]
  }
}
