import Foundation
import Models

public enum Importance {
  /// The number of layers to remove for `request`: for a sparsity, the smallest n whose
  /// removal, net of the replacement's parameters, reaches that share of all parameters.
  public static func layerCount(
    _ request: RemovalRequest, config: any Architecture, replacement: ReplacementKind
  ) throws -> Int {
    let layers = config.numLayers
    // The widest block must leave a layer besides the replacement (or before a linear map).
    let maximum = replacement.blockWidth(removing: 1) == 1 ? layers - 1 : layers - 2
    switch request {
    case .layers(let n):
      guard n > 0 else { throw CompressionError.removalBelowOne(n) }
      guard n <= maximum else {
        throw CompressionError.removalLeavesNoLayer(
          requested: n, layers: layers, maximum: maximum,
          besideReplacement: replacement.implementation.compensates)
      }
      return n
    case .sparsity(let s):
      guard s > 0 && s < 1 else {
        throw CompressionError.sparsityOutOfRange(s)
      }
      let target = s * Double(config.totalParameters)
      for n in 1...max(1, maximum) where Double(n * config.parametersPerLayer) >= target {
        return n
      }
      throw CompressionError.sparsityUnreachable(
        sparsity: s, maximum: maximum,
        share: Double(maximum * config.parametersPerLayer) / Double(config.totalParameters))
    }
  }

  /// The one rule tying a metric to a replacement: `bi` ranks single layers, so the n it picks
  /// need not be contiguous and only plain removal (`none`) can take them.
  public static func checkMetric(_ metric: ImportanceMetric, replacement: ReplacementKind) throws {
    if metric == .bi && !replacement.implementation.takesScatteredLayers {
      throw CompressionError.scatteredMetric(metric)
    }
  }

  /// Scores every block of `width` layers and chooses one (or, for `bi`, n layers).
  public static func analyze(
    _ similarity: SimilarityMatrix, config: any Architecture, metric: ImportanceMetric,
    removing n: Int, replacement: ReplacementKind, keeping kept: Set<Int> = []
  ) throws -> Analysis {
    let width = replacement.blockWidth(removing: n)
    let blocks = scores(similarity, width: width).filter { block in
      block.start >= replacement.earliestStart
        && !(block.start..<block.end).contains(where: kept.contains)
    }
    guard !blocks.isEmpty else { throw CompressionError.noBlockBesideReplacements(width: width) }
    try checkMetric(metric, replacement: replacement)
    let choices: [String: ChosenBlock] = [
      ImportanceMetric.cosine.rawValue: choose(blocks, by: .cosine),
      ImportanceMetric.angular.rawValue: choose(blocks, by: .angular),
      ImportanceMetric.bi.rawValue: lowestBI(similarity.layerBI, count: width),
    ]
    let chosen = choices[metric.rawValue]!
    let distinct = Set(choices.values.map(\.layers))
    return Analysis(
      metric: metric, replacement: replacement, removedLayers: n, blockSize: width,
      numLayers: config.numLayers, samples: similarity.samples, tokens: similarity.tokens,
      blocks: blocks, layerBI: similarity.layerBI, chosen: chosen, choices: choices,
      metricsAgree: distinct.count == 1, parameters: config.totalParameters,
      parametersRemoved: n * config.parametersPerLayer, similarity: similarity)
  }

  /// Every contiguous block of `width` layers, by start state.
  public static func scores(_ similarity: SimilarityMatrix, width: Int) -> [BlockScore] {
    (0...(similarity.numLayers - width)).map { i in
      BlockScore(
        start: i, end: i + width, cosine: similarity.cosine[i][i + width],
        angular: similarity.angular[i][i + width])
    }
  }

  /// The blocks from the most redundant down (the first is `choose`'s), earlier first on ties.
  static func ranked(_ blocks: [BlockScore], by metric: ImportanceMetric) -> [BlockScore] {
    blocks.enumerated().sorted { a, b in
      let (x, y) = (a.element, b.element)
      if metric == .angular ? x.angular != y.angular : x.cosine != y.cosine {
        return metric == .angular ? x.angular < y.angular : x.cosine > y.cosine
      }
      return a.offset < b.offset
    }.map(\.element)
  }

  /// The most redundant block: highest cosine or lowest angular distance, earliest on ties.
  static func choose(_ blocks: [BlockScore], by metric: ImportanceMetric) -> ChosenBlock {
    var best = blocks[0]
    for block in blocks.dropFirst() {
      let better = metric == .angular ? block.angular < best.angular : block.cosine > best.cosine
      if better { best = block }
    }
    return ChosenBlock(start: best.start, end: best.end, layers: Array(best.start..<best.end))
  }

  /// The `count` layers of lowest Block Influence (lower index on ties), in order.
  static func lowestBI(_ bi: [Double], count: Int) -> ChosenBlock {
    let layers = bi.indices.sorted { (bi[$0], $0) < (bi[$1], $1) }.prefix(count).sorted()
    return ChosenBlock(start: layers.first!, end: layers.last! + 1, layers: Array(layers))
  }
}
