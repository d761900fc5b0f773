import Foundation
import Models

/// The score of one contiguous block: states `start` (before) and `end` (after).
public struct BlockScore: Codable, Sendable, Equatable {
  public let start: Int
  public let end: Int
  public let cosine: Double
  public let angular: Double
}

public struct ChosenBlock: Codable, Sendable, Equatable {
  public let start: Int
  public let end: Int
  /// 0-based indices of the layers removed (replaced, with a replacement).
  public let layers: [Int]
}

/// The result of `streamline analyze`.
public struct Analysis: Codable, Sendable {
  public let metric: ImportanceMetric
  public let replacement: ReplacementKind
  /// Layers fewer in the output.
  public let removedLayers: Int
  /// Width of the scored block: n, or n + 1 with a replacement layer.
  public let blockSize: Int
  public let numLayers: Int
  public let samples: Int
  public let tokens: Int
  public let blocks: [BlockScore]
  public let layerBI: [Double]
  public var chosen: ChosenBlock
  /// How `chosen` was chosen: by the metric alone, or measured among its best candidates
  /// (`measured` lists them).
  public var selection = SelectionKind.similarity
  public var measured: [MeasuredBlock]?
  /// The blocks each metric picks at this size, and whether they all agree.
  public let choices: [String: ChosenBlock]
  public let metricsAgree: Bool
  public let parameters: Int
  public let parametersRemoved: Int
  public let similarity: SimilarityMatrix

  enum CodingKeys: String, CodingKey {
    case metric, replacement, blocks, chosen, choices, samples, tokens, parameters, similarity
    case selection, measured
    case removedLayers = "removed_layers"
    case blockSize = "block_size"
    case numLayers = "num_layers"
    case layerBI = "layer_bi"
    case metricsAgree = "metrics_agree"
    case parametersRemoved = "parameters_removed"
  }
}
