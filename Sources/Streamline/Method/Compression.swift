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

/// One block removed, in source-layer numbers, and how it scored when chosen.
public struct RemovedBlock: Codable, Sendable, Equatable {
  public let layers: [Int]
  /// Cosine and angular scores of the block on the model as pruned so far.
  public let cosine: Double
  public let angular: Double
  /// What took its place (nil for plain removal), the source layer a trained replacement was
  /// written over, and its validation loss before and after it was made (the training
  /// objective's, or the map's MSE against plain removal's).
  public var replacement: ReplacementKind? = nil
  public var replacedLayer: Int? = nil
  public var validation: BlockValidation? = nil
  /// The earlier blocks' replacement layers that trained again with this one.
  public var trainedAbove: [Int]? = nil
  /// With measured selection, the candidates this block was chosen from.
  public var measured: [MeasuredCandidate]? = nil

  enum CodingKeys: String, CodingKey {
    case layers, cosine, angular, replacement, validation, measured
    case replacedLayer = "replaced_layer"
    case trainedAbove = "trained_above"
  }
}

/// A candidate of one step's measured selection in source-layer numbers: its block's layers (a
/// replacement layer's block starts with the layer it replaces), similarity, compensation and
/// measured KL, as `MeasuredBlock` gives them on the model pruned so far.
public struct MeasuredCandidate: Codable, Sendable, Equatable {
  public let layers: [Int]
  public let cosine: Double
  public let angular: Double
  public let compensation: String
  public let kl: Double
  public let perplexity: Double

  init(_ block: MeasuredBlock, sourceLayers: [Int]) {
    layers = (block.start..<block.end).map { sourceLayers[$0] }
    cosine = block.cosine
    angular = block.angular
    compensation = block.compensation
    kl = block.kl
    perplexity = block.perplexity
  }
}

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

/// The method as a short recipe over its parts: check the request, select the block, capture
/// the states the replacement and its training objective need, make the replacement. Each part
/// is replaceable on its own (`BlockSelection`, `StateCapture`, `Replacement`,
/// `TrainingObjective`); several blocks are the selection run again on the model as pruned so
/// far.
public enum Compression {
  /// Scores (unless the block is given), captures training states in the same pass, trains or
  /// fits the replacement, and returns what `Surgery.write` needs.
  ///
  /// The first `request.scoringSamples` of `sequences` are scored (unless the block is given);
  /// the rest train.
  public static func plan(
    model: DecoderModel, sequences: [[Int]], request: CompressionRequest,
    progress: (String) -> Progress
  ) throws -> CompressionPlan {
    let scoring =
      request.layers == nil && request.sums == nil
      ? min(request.scoringSamples, sequences.count) : 0
    return try plan(
      model: model, scoring: Array(sequences[..<scoring]), training: Array(sequences[scoring...]),
      request: request, progress: progress)
  }

  /// Scores `scoring` (one pass over every layer) unless the block is given or `request.sums`
  /// holds the scores, then captures only the states the replacement needs of `training`,
  /// running each sequence only as far as the last of them, and trains or fits the replacement;
  /// with `request.healing`, the pruned model then heals on `healing`.
  public static func plan(
    model: DecoderModel, scoring: [[Int]], training: [[Int]], healing: [[Int]] = [],
    request: CompressionRequest, progress: (String) -> Progress
  ) throws -> CompressionPlan {
    if request.healing != nil, healing.count < 2 {
      throw CompressionError.tooFewHealingSequences(healing.count)
    }
    let plan = try planRemoval(
      model: model, scoring: scoring, training: training, request: request, progress: progress)
    guard let options = request.healing, !request.stopAfterCapture else { return plan }
    return try Healing.heal(
      plan, original: model, sequences: healing, options: options, request: request,
      progress: progress)
  }

  /// `plan` up to the replacement.
  static func planRemoval(
    model: DecoderModel, scoring: [[Int]], training: [[Int]], request: CompressionRequest,
    progress: (String) -> Progress
  ) throws -> CompressionPlan {
    guard let folder = model.folder else { preconditionFailure("compression reads checkpoints") }
    try request.validate()
    try request.check(trainingSequences: training.count)
    if request.blocks > 1 {
      return request.replacement == .none && request.selectionInEffect == .similarity
        ? try BlockSelection.iterative(
          model: model, scoring: scoring, request: request, progress: progress)
        : try CompensatedRemoval.plan(
          model: model, scoring: scoring, training: training, request: request,
          progress: progress)
    }
    let config = model.config
    let replacement = request.replacement.implementation
    let (block, analysis) = try BlockSelection.select(
      model: model, scoring: scoring, training: training, request: request, progress: progress)

    // Only the states the replacement and (when it trains) its objective read.
    let objective = replacement.isTrained ? request.training.loss.objective : nil
    let states = Set(
      replacement.states(
        start: block.start, end: block.end, layers: config.numLayers, options: request.training)
        + (objective?.states(start: block.start, end: block.end, layers: config.numLayers) ?? [])
    ).sorted()
    let captured = try StateCapture.capture(
      states, model: model, sequences: training, request: request, targetsFrom: block.end,
      progress: progress)
    if request.stopAfterCapture {
      var plan = CompressionPlan(
        analysis: analysis, start: block.start, end: block.end, removed: [], overrides: [:],
        training: nil, linearFit: nil)
      plan.capture = captured?.report
      return plan
    }
    let part = try withoutActuallyEscaping(progress) { progress in
      try replacement.make(
        ReplacementContext(
          folder: folder, config: config, precision: model.precision, block: block,
          request: request, store: captured?.store, training: training, progress: progress))
    }
    var plan = CompressionPlan(
      analysis: analysis, start: block.start, end: block.end, removed: part.removed,
      overrides: part.overrides, training: part.training, linearFit: part.linearFit)
    plan.capture = captured?.report
    return plan
  }
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
