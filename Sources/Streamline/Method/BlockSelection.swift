import Foundation
import Models

/// Which layers go: the ones given, or the most redundant block by a similarity metric over
/// the scored sequences (or over scores computed elsewhere).
public enum BlockSelection {
  /// The block `request.layers` names, or the one `request.metric` scores best (with the
  /// analysis behind the choice), or with `.measured` selection the best of the few best by
  /// it, measured (the maps fitted on `training`); `scoring` is measured only when no scores
  /// are given.
  public static func select(
    model: DecoderModel, scoring: [[Int]], training: [[Int]], request: CompressionRequest,
    progress: (String) -> Progress
  ) throws -> (block: SelectedBlock, analysis: Analysis?) {
    if let layers = request.layers {
      return (SelectedBlock(start: layers.first!, end: layers.last! + 1, layers: layers), nil)
    }
    let config = model.config
    let count = try Importance.layerCount(
      request.removal!, config: config, replacement: request.replacement)
    let sums: SimilaritySums
    if let given = request.sums {
      guard given.numLayers == config.numLayers else {
        throw CompressionError.statisticsDepth(
          statistics: given.numLayers, model: config.numLayers)
      }
      sums = given
    } else {
      guard !scoring.isEmpty else { throw CompressionError.noScoringSequences }
      sums = try Similarity.measureSums(
        model: model, sequences: scoring, memoryBudget: request.memoryBudget,
        progress: progress("scoring layers"))
    }
    var analysis = try Importance.analyze(
      sums.matrix, config: config, metric: request.metric, removing: count,
      replacement: request.replacement, keeping: request.earlierReplacements)
    if request.selectionInEffect == .measured {
      analysis = try MeasuredSelection.choose(
        from: analysis, model: model, scoring: scoring, training: training, request: request,
        progress: progress)
    }
    let chosen = analysis.chosen
    return (SelectedBlock(start: chosen.start, end: chosen.end, layers: chosen.layers), analysis)
  }

  /// `--blocks K`: n layers in K blocks as even as possible (the larger first), each the best
  /// block of the model as pruned so far, rescored on an in-memory view that skips the layers
  /// already gone.
  static func iterative(
    model: DecoderModel, scoring: [[Int]], request: CompressionRequest,
    progress: (String) -> Progress
  ) throws -> CompressionPlan {
    let config = model.config
    let n = try Importance.layerCount(request.removal!, config: config, replacement: .none)
    guard request.blocks <= n else {
      throw CompressionError.moreBlocksThanLayers(blocks: request.blocks, layers: n)
    }
    guard !scoring.isEmpty else { throw CompressionError.noScoringSequences }
    let sizes = blockSizes(n, into: request.blocks)
    var view = Array(0..<config.numLayers)
    var removed: [RemovedBlock] = []
    var first: Analysis?
    for (b, size) in sizes.enumerated() {
      let sums = try Similarity.measureSums(
        model: model, sequences: scoring, memoryBudget: request.memoryBudget, layers: view,
        progress: progress("scoring layers (block \(b + 1) of \(sizes.count))"))
      let matrix = sums.matrix
      let blocks = Importance.scores(matrix, width: size)
      let chosen =
        request.metric == .angular
        ? Importance.choose(blocks, by: .angular) : Importance.choose(blocks, by: .cosine)
      if first == nil {
        first = try Importance.analyze(
          matrix, config: config, metric: request.metric == .bi ? .cosine : request.metric,
          removing: size, replacement: .none)
      }
      let score = blocks[chosen.start]
      removed.append(
        RemovedBlock(
          layers: chosen.layers.map { view[$0] }, cosine: score.cosine, angular: score.angular))
      view.removeSubrange(chosen.start..<chosen.end)
    }
    let all = removed.flatMap(\.layers).sorted()
    var plan = CompressionPlan(
      analysis: first, start: all.first!, end: all.last! + 1, removed: all, overrides: [:],
      training: nil, linearFit: nil)
    plan.blocks = removed
    return plan
  }

  /// n split into `count` parts as even as possible, the larger first.
  public static func blockSizes(_ n: Int, into count: Int) -> [Int] {
    (0..<count).map { n / count + ($0 < n % count ? 1 : 0) }
  }
}
