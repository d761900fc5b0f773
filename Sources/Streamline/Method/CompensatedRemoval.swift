import Checkpoint
import Foundation
import Models

/// `--blocks K` with a replacement (after Prune&Comp and LinearPatch): the best block of the
/// model is replaced (trained or fitted), the model with the replacements made so far is
/// rescored, the next block is chosen and replaced, until n layers are gone.
///
/// Each step is the single-block recipe on the model as pruned so far, which is written to a
/// scratch checkpoint in the spill directory (it is read as the next step's model, exactly as
/// the output will hold it). Every replacement learns to reproduce the original model: its
/// inputs come from the model pruned so far, its targets (the state after the block, the
/// teacher's logits) from the original, so each step also compensates the error of the steps
/// before it. With a loss at the model's output, the earlier replacements above the block train
/// again with it: their inputs change once the block goes.
enum CompensatedRemoval {
  static func plan(
    model original: DecoderModel, scoring: [[Int]], training: [[Int]],
    request: CompressionRequest, progress: (String) -> Progress
  ) throws -> CompressionPlan {
    let config = original.config
    let n = try Importance.layerCount(
      request.removal!, config: config, replacement: request.replacement)
    guard request.blocks <= n else {
      throw CompressionError.moreBlocksThanLayers(blocks: request.blocks, layers: n)
    }
    guard !scoring.isEmpty else { throw CompressionError.noScoringSequences }
    let sizes = BlockSelection.blockSizes(n, into: request.blocks)

    var current = original
    var scratch: URL?
    defer { if let scratch { try? FileManager.default.removeItem(at: scratch) } }
    // The original layer each layer of `current` is.
    var sourceLayers = Array(0..<config.numLayers)
    var removed: [Int] = []
    var overrides: [String: Surgery.Override] = [:]
    var blocks: [RemovedBlock] = []
    var first: CompressionPlan?
    // The source layers holding the replacements made so far. A later block may not hold one:
    // removing it discards what it learnt and leaves one wide block replaced by one step's
    // training (on Gemma 3 270M, 6 layers in 2 blocks, the second swallowing the first's
    // replacement, gave held-out perplexity 137.4 where one block of 6 gives 56.7).
    var hosts: Set<Int> = []
    for (b, size) in sizes.enumerated() {
      var step = request
      step.blocks = 1
      // The whole model heals once, after the last block.
      step.healing = nil
      step.selection = request.selectionInEffect
      step.removal = .layers(size)
      // The first step prunes the original itself.
      step.teacher = b == 0 ? nil : Teacher(model: original, sourceLayers: sourceLayers)
      step.earlierReplacements = Set(
        sourceLayers.indices.filter { hosts.contains(sourceLayers[$0]) })
      let label = "block \(b + 1) of \(sizes.count): "
      let part = try Compression.plan(
        model: current, scoring: scoring, training: training, request: step,
        progress: { progress(label + $0) })
      if first == nil { first = part }
      blocks.append(
        record(
          part, sourceLayers: sourceLayers, replacement: request.replacement,
          options: request.training))
      removed += part.removed.map { sourceLayers[$0] }
      if let host = request.replacement.implementation.hostLayer(start: part.start) {
        hosts.insert(sourceLayers[host])
      }
      // A later step's tensor was made from the earlier one's (the scratch checkpoint holds it),
      // so it replaces it.
      for (name, override) in part.overrides {
        overrides[Surgery.sourceName(name, sourceLayers: sourceLayers, config: current.config)] =
          override
      }
      guard b + 1 < sizes.count else { break }
      let next = request.spillDirectory.appendingPathComponent(
        "streamline-step-\(b + 1)-\(UUID().uuidString)")
      _ = try Surgery.write(
        source: current.folder!, config: current.config, removing: part.removed,
        overrides: part.overrides, manifest: [:], to: next)
      if let scratch { try? FileManager.default.removeItem(at: scratch) }
      scratch = next
      current = try DecoderModel(url: next, precision: original.precision)
      let gone = Set(part.removed)
      sourceLayers = sourceLayers.indices.filter { !gone.contains($0) }.map { sourceLayers[$0] }
    }
    removed.sort()
    var plan = CompressionPlan(
      analysis: first?.analysis, start: removed.first!, end: removed.last! + 1, removed: removed,
      overrides: overrides, training: nil, linearFit: nil)
    plan.blocks = blocks
    return plan
  }

  /// The step's block in original layer numbers, with its scores and validation loss.
  static func record(
    _ part: CompressionPlan, sourceLayers: [Int], replacement: ReplacementKind,
    options: TrainingOptions
  ) -> RemovedBlock {
    let score = part.analysis?.blocks.first { $0.start == part.start && $0.end == part.end }
    var block = RemovedBlock(
      layers: part.removed.map { sourceLayers[$0] }, cosine: score?.cosine ?? .nan,
      angular: score?.angular ?? .nan)
    block.replacement = replacement
    block.measured = part.analysis?.measured?.map {
      MeasuredCandidate($0, sourceLayers: sourceLayers)
    }
    if let training = part.training {
      block.replacedLayer = sourceLayers[part.start]
      block.trainedAbove = training.trainedAbove?.map { sourceLayers[$0] }
      block.validation = BlockValidation(
        loss: training.options.loss.rawValue, before: training.initialValidation,
        after: training.bestValidation)
    } else if let fit = part.linearFit, let after = fit["validation_mse"],
      let before = fit["plain_removal_validation_mse"]
    {
      block.validation = BlockValidation(loss: "linear_mse", before: before, after: after)
    }
    return block
  }
}
