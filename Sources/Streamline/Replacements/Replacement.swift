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

/// One way of filling the place of a removed block: the states it needs captured, how it is
/// made from them, and what it writes into the checkpoint (the tensors it overrides, the
/// layers that go, and its report).
public protocol Replacement: Sendable {
  /// Whether a module of its own takes the block's place, so the scored block is one layer
  /// wider than the layers the output loses.
  var takesLayerPlace: Bool { get }
  /// The first state a block may start at.
  var earliestStart: Int { get }
  /// The layer that holds the replacement of the block starting at state `start` (the layer it
  /// overwrites, or the one the map folds into); nil for plain removal.
  func hostLayer(start: Int) -> Int?
  /// Whether it is trained (with a `TrainingObjective`, neighbours healing beside it).
  var isTrained: Bool { get }
  /// Whether it is fitted or trained on training sequences.
  var needsTrainingSequences: Bool { get }
  /// Whether it can take layers that are not one block (plain removal only).
  var takesScatteredLayers: Bool { get }

  /// The residual states it needs of the training sequences for the block `start..<end` of a
  /// model of `layers` layers (a trained replacement's objective adds its own).
  func states(start: Int, end: Int, layers: Int, options: TrainingOptions) -> [Int]

  /// Makes the replacement from the captured states.
  func make(_ context: ReplacementContext) throws -> ReplacementPart

  /// What `prune` says it did, after the counts: what went, what took its place and how well
  /// it fits (`record` is what was written).
  func describe(_ record: PruneRecord) -> String
}

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

/// What a replacement writes: the source layers dropped, the tensors it overrides, and how it
/// was trained or fitted.
public struct ReplacementPart {
  public let removed: [Int]
  public let overrides: [String: Surgery.Override]
  public let training: TrainingReport?
  public let linearFit: [String: Double]?

  public init(
    removed: [Int], overrides: [String: Surgery.Override] = [:], training: TrainingReport? = nil,
    linearFit: [String: Double]? = nil
  ) {
    self.removed = removed
    self.overrides = overrides
    self.training = training
    self.linearFit = linearFit
  }
}
