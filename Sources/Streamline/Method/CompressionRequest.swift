import Checkpoint
import Foundation
import Models
import Tensors

/// What `streamline prune` is asked to do.
public struct CompressionRequest {
  /// How many layers go (nil with `layers`).
  public var removal: RemovalRequest?
  /// Exactly this block (0-based source layers), skipping scoring.
  public var layers: [Int]?
  public var metric = ImportanceMetric.cosine
  /// By similarity alone, or measured among the `candidates` best by similarity; nil for
  /// `SelectionKind.standard`'s choice.
  public var selection: SelectionKind?
  public var candidates = 4
  public var replacement = ReplacementKind.none
  public var training = TrainingOptions()
  /// Calibration sequences scored; the rest of the calibration set trains the replacement.
  public var scoringSamples = 64
  /// Bytes of hidden states kept at once while scoring.
  public var memoryBudget = 8 << 30
  /// Bytes of training states kept in memory before spilling to `spillDirectory`.
  public var trainingMemory = Int(Self.defaultTrainingMemoryGiB * Double(1 << 30))
  public static let defaultTrainingMemoryGiB = 8.0
  public var spillDirectory = FileManager.default.temporaryDirectory
  /// Blocks the layers go in: the best block is replaced, the model pruned so far is rescored,
  /// and so on (`CompensatedRemoval`).
  public var blocks = 1
  /// Scoring sums computed elsewhere (`analyze --save-stats`), used instead of scoring.
  public var sums: SimilaritySums?
  /// Stop once the training states are captured (measurements).
  public var stopAfterCapture = false
  /// The model the replacement learns to reproduce, when it is not the one pruned.
  var teacher: Teacher?
  /// The layers holding the earlier steps' replacements in compensated removal: no block may
  /// contain one, and those above the block train again with its replacement.
  var earlierReplacements: Set<Int> = []
  /// Healing of the whole pruned model after the replacement (nil: none).
  public var healing: HealingOptions?

  public init() {}
}

extension CompressionRequest {
  /// The selection asked for, or the standard one for this request.
  var selectionInEffect: SelectionKind {
    selection ?? .standard(blocks: blocks, replacement: replacement, metric: metric)
  }

  /// The request's own contradictions, before any work, in the order the user meets them.
  func check(trainingSequences: Int) throws {
    let replacement = self.replacement.implementation
    guard blocks >= 1 else { throw CompressionError.blocksBelowOne(blocks) }
    if blocks > 1 {
      guard layers == nil, sums == nil else {
        throw CompressionError.blocksNeedScoredRemoval(blocks: blocks)
      }
    }
    if selectionInEffect == .measured {
      guard layers == nil, sums == nil, metric != .bi else {
        throw CompressionError.measuredSelectionNeedsScoring
      }
    }
    if training.healNeighbors && !replacement.isTrained {
      throw CompressionError.healingNeedsTrainedReplacement
    }
    if replacement.needsTrainingSequences && trainingSequences < 2 {
      throw CompressionError.tooFewTrainingSequences(self.replacement)
    }
    if let layers {
      guard replacement.takesScatteredLayers || layers == Array(layers.first!...layers.last!)
      else {
        throw CompressionError.scatteredBlock(self.replacement)
      }
      if layers.first! < replacement.earliestStart {
        throw CompressionError.noLayerBeforeBlock(self.replacement)
      }
    }
  }
}
