import Checkpoint
import Foundation
import Tensors

/// OPT as generic code sees it.
extension OPTConfig: Architecture {
  public var numKVHeads: Int { numHeads }
  public var maxPositions: Int? { positions }
  /// Attention itself is exact at any length; the learned position table is what ends, and
  /// `embed` refuses what it cannot place.
  public var maxAttentionSpan: Int? { nil }

  public func layerPrefix(_ layer: Int) -> String { decoderPrefix + "layers.\(layer)." }

  public func layerTensors(_ layer: Int) -> [(name: String, shape: [Int])] {
    layerSpec.tensors(prefix: layerPrefix(layer))
  }

  public var globalTensors: [(name: String, shape: [Int])] {
    var names: [(String, [Int])] = [
      (embeddingName, [vocabSize, embeddingSize]), (positionName, [positions + 2, hiddenSize]),
    ]
    if finalNorm && affineNorms {
      names += [
        (finalNormPrefix + "weight", [hiddenSize]), (finalNormPrefix + "bias", [hiddenSize]),
      ]
    }
    if projects {
      names += [
        (projectInName, [hiddenSize, embeddingSize]),
        (projectOutName, [embeddingSize, hiddenSize]),
      ]
    }
    if !tieWordEmbeddings { names.append((Self.headName, [vocabSize, embeddingSize])) }
    return names
  }

  public func tolerates(extraTensor name: String) -> Bool {
    // Tied checkpoints may still store the head.
    name == Self.headName && tieWordEmbeddings
  }

  public func loadLayer(_ index: Int, from folder: ModelFolder, precision: Precision) throws
    -> any DecoderLayer
  {
    try OPTLayer.load(index, config: self, from: folder, precision: precision)
  }

  public func loadHead(from folder: ModelFolder, precision: Precision) throws
    -> any LanguageModelHead
  {
    let c = hiddenSize
    let norm: (weight: Tensor?, bias: Tensor?)? =
      finalNorm
      ? affineNorms
        ? (
          try folder.float(finalNormPrefix + "weight", shape: [c]),
          try folder.float(finalNormPrefix + "bias", shape: [c])
        ) : (nil, nil)
      : nil
    return OPTHead(
      norm: norm, eps: layerNormEps,
      projectOut: projects
        ? try Linear.load(
          stacking: [projectOutName], outFeatures: [embeddingSize], inFeatures: c,
          biases: [nil], from: folder, precision: precision) : nil,
      projection: try Linear.load(
        stacking: [headWeightName], outFeatures: [vocabSize], inFeatures: embeddingSize,
        biases: [nil], from: folder, precision: precision))
  }

  /// `project_in(embed_tokens[t]) + embed_positions[p + 2]`: transformers computes positions
  /// from the attention mask (`cumsum(mask) − 1`), which for unpadded rows is the index in the
  /// sequence, and a continuation's carry on from its prefix: `batch.positions`.
  public func embed(_ sequences: [[Int]], batch: Batch, from folder: ModelFolder, into x: Tensor)
    throws
  {
    if let last = batch.positions.max(), last >= positions {
      throw ModelError.sequenceTooLong(
        length: last + 1, limit: positions,
        reason: "OPT's learned positions end at max_position_embeddings")
    }
    if projects {
      let narrow = Tensor(uninitialized: [batch.rows, embeddingSize])  // [rows, P]
      try Embedding.gather(embeddingName, sequences, from: folder, into: narrow)
      let projectIn = try Linear.load(
        stacking: [projectInName], outFeatures: [hiddenSize], inFeatures: embeddingSize,
        biases: [nil], from: folder, precision: .f32)
      projectIn.apply(Linear.Input(narrow.pointer), into: x.pointer, rows: batch.rows)
    } else {
      try Embedding.gather(embeddingName, sequences, from: folder, into: x)
    }
    let placed = Tensor(uninitialized: [batch.rows, hiddenSize])  // [rows, C]
    try Embedding.gather(positionName, [batch.positions.map { $0 + 2 }], from: folder, into: placed)
    Kernels.add(x.pointer, placed.pointer, count: x.count)
  }

  public func randomLayer(precision: Precision, using generator: inout SplitMix)
    -> any DecoderLayer
  {
    layerSpec.random(layerType, precision: precision, using: &generator)
  }

  public func randomHead(precision: Precision, using generator: inout SplitMix)
    -> any LanguageModelHead
  {
    let c = hiddenSize
    return OPTHead(
      norm: finalNorm
        ? (Tensor(shape: [c], values: .init(repeating: 1, count: c)), Tensor(zeros: [c])) : nil,
      eps: layerNormEps,
      projectOut: projects
        ? Linear.random(
          outFeatures: embeddingSize, inFeatures: c, bias: false, precision: precision,
          using: &generator) : nil,
      projection: Linear.random(
        outFeatures: vocabSize, inFeatures: embeddingSize, bias: false, precision: precision,
        using: &generator))
  }
}
