import Checkpoint
import Foundation
import Models
import Tensors

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
  /// Whether anything takes the block's place (so that it is compensated for what the block
  /// did, is chosen by measured loss in several blocks unless told, and is measured against
  /// plain removal on held-out text).
  var compensates: Bool { get }
  /// How measured selection compensates a candidate block before measuring it.
  var candidateCompensation: CandidateCompensation { get }
  /// Whether it is fitted or trained on training sequences.
  var needsTrainingSequences: Bool { get }
  /// Whether it can take layers that are not one block (plain removal only).
  var takesScatteredLayers: Bool { get }
  /// Whether its layer runs with attention switched off (an MLP), so that it stays one when
  /// the pruned model heals.
  var switchesAttentionOff: Bool { get }

  /// The residual states it needs of the training sequences for the block `start..<end` of a
  /// model of `layers` layers (a trained replacement's objective adds its own).
  func states(start: Int, end: Int, layers: Int, options: TrainingOptions) -> [Int]

  /// Makes the replacement from the captured states.
  func make(_ context: ReplacementContext) throws -> ReplacementPart

  /// What `prune` says it did, after the counts: what went, what took its place and how well
  /// it fits (`record` is what was written).
  func describe(_ record: PruneRecord) -> String
}

/// How a candidate block is compensated when measured selection measures it in memory.
public enum CandidateCompensation: Sendable, Equatable {
  /// Measured as plain removal writes it: nothing in its place.
  case none
  /// With the training-free linear map after the replacement's host layer (folded into it where
  /// the family's MLP output can take it), as the `linear` replacement writes it and the
  /// `linear` initialisation starts a trained replacement.
  case linearMap
}
