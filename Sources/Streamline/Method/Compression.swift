import Checkpoint
import Foundation
import Models
import Tensors

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
    let replacement = request.replacement.implementation
    if request.blocks > 1 {
      return !replacement.compensates && request.selectionInEffect == .similarity
        ? try BlockSelection.iterative(
          model: model, scoring: scoring, request: request, progress: progress)
        : try CompensatedRemoval.plan(
          model: model, scoring: scoring, training: training, request: request,
          progress: progress)
    }
    let config = model.config
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
