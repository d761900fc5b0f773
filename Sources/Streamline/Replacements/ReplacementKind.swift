import Checkpoint
import Foundation
import Models
import Tensors

/// What replaces the removed block. Each case is one `Replacement`, registered in
/// `implementation` below: adding a kind is its file, a case here and its line there.
public enum ReplacementKind: String, Codable, Sendable, CaseIterable {
  /// Plain removal: a block of n layers goes.
  case none
  /// One decoder layer of the model's own architecture, trained, replaces a block of n + 1
  /// layers (initialised from the block's first layer).
  case layer
  /// A pre-norm gated MLP with a residual, trained, replaces a block of n + 1 layers; it is
  /// written as a decoder layer whose attention output projection is zero.
  case ffn
  /// Training-free (ReplaceMe): a block of n layers goes and a least-squares linear map is
  /// folded into the `down_proj` of the layer before it.
  case linear

  /// The registry: the replacement each kind names.
  public var implementation: any Replacement {
    switch self {
    case .none: NoReplacement()
    case .layer: TrainedLayerReplacement(kind: .layer, attentionOff: false)
    case .ffn: TrainedLayerReplacement(kind: .ffn, attentionOff: true)
    case .linear: LinearMapReplacement()
    }
  }

  /// Layers in the scored block when the output has `n` layers fewer.
  public func blockWidth(removing n: Int) -> Int {
    implementation.takesLayerPlace ? n + 1 : n
  }

  /// The first state a block may start at (`linear` needs a layer before the block).
  public var earliestStart: Int { implementation.earliestStart }

  public var isTrained: Bool { implementation.isTrained }
}
