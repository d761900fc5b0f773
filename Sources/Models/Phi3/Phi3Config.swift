import Checkpoint
import Foundation
import Tensors

/// Phi-3 (and Phi-3.5, Phi-4-mini), as transformers' `modeling_phi3.py` computes it: the Llama
/// computation with q/k/v fused into one `qkv_proj` tensor and gate/up into one `gate_up_proj`
/// (gate first), no biases, partial rotary (`partial_rotary_factor`: only the first
/// `head_dim · factor` features of each head rotate) and LongRoPE scaling (per-frequency
/// `short_factor` / `long_factor`, picked per sequence by its length against
/// `original_max_position_embeddings`, with cos and sin scaled by the attention factor).
public enum Phi3 {
  static func config(_ source: ConfigSource) throws -> any Architecture {
    try Phi3Config(source)
  }
}

/// The configuration of a Phi-3 decoder.
public struct Phi3Config: Sendable, Equatable {
  public let modelType: String
  public let hiddenSize: Int
  public let intermediateSize: Int
  public let numLayers: Int
  public let numHeads: Int
  public let numKVHeads: Int
  public let headDim: Int
  public let vocabSize: Int
  public let rmsNormEps: Float
  public let rope: Rope
  public let tieWordEmbeddings: Bool
  public let maxPositions: Int?
  /// `original_max_position_embeddings` (top level first, as transformers reads it; 4096, its
  /// default, when absent): the context LongRoPE's short factors are for.
  public let originalMaxPositions: Int
  /// Every layer attends over the last `sliding_window` tokens (transformers' Phi-3 masks all
  /// layers alike); nil for full attention.
  public let window: Int?
  /// Any length is computed exactly.
  public var maxAttentionSpan: Int? { nil }

  struct Keys: Decodable {
    var partialRotaryFactor: Double?
    var originalMaxPositionEmbeddings: Int?

    enum CodingKeys: String, CodingKey {
      case partialRotaryFactor = "partial_rotary_factor"
      case originalMaxPositionEmbeddings = "original_max_position_embeddings"
    }
  }

  init(_ source: ConfigSource) throws {
    let raw = source.raw
    let path = source.path
    let keys: Keys
    do {
      keys = try JSONDecoder().decode(Keys.self, from: source.data)
    } catch {
      throw ModelError.invalidConfig(path: path, reason: "a Phi-3 key has the wrong type")
    }
    modelType = raw.modelType ?? "phi3"
    hiddenSize = try raw.require(raw.hiddenSize ?? 3072, "hidden_size", path: path)
    intermediateSize = try raw.require(
      raw.intermediateSize ?? 8192, "intermediate_size", path: path)
    numLayers = try raw.require(raw.numHiddenLayers ?? 32, "num_hidden_layers", path: path)
    numHeads = try raw.require(raw.numAttentionHeads ?? 32, "num_attention_heads", path: path)
    numKVHeads = try raw.require(
      raw.numKeyValueHeads ?? numHeads, "num_key_value_heads", path: path)
    vocabSize = try raw.require(raw.vocabSize ?? 32064, "vocab_size", path: path)
    guard numHeads % numKVHeads == 0 else {
      throw ModelError.invalidConfig(
        path: path,
        reason:
          "num_attention_heads (\(numHeads)) is not a multiple of num_key_value_heads (\(numKVHeads))"
      )
    }
    if let dim = raw.headDim {
      headDim = try raw.require(dim, "head_dim", path: path)
    } else {
      guard hiddenSize % numHeads == 0 else {
        throw ModelError.invalidConfig(
          path: path, reason: "hidden_size is not a multiple of num_attention_heads")
      }
      headDim = hiddenSize / numHeads
    }
    if let act = raw.hiddenAct, act != "silu" {
      throw ModelError.unsupportedFeature(
        path: path, feature: "hidden_act \"\(act)\"", supported: "silu")
    }
    rmsNormEps = Float(raw.rmsNormEps ?? 1e-5)
    tieWordEmbeddings = raw.tieWordEmbeddings ?? false
    maxPositions = raw.maxPositionEmbeddings ?? 4096
    // Phi3Config always has a top-level original_max_position_embeddings (default 4096),
    // which transformers puts into rope_parameters over what is there.
    rope = try Rope(
      raw, path: path, dimension: headDim, defaultTheta: 10000,
      family: .init(
        partialRotary: true, partialRotaryFactor: keys.partialRotaryFactor,
        originalMaxPositions: keys.originalMaxPositionEmbeddings ?? 4096,
        maxPositions: maxPositions, aliases: ["su": "longrope", "yarn": "longrope"],
        longrope: true))
    window = raw.slidingWindow
    originalMaxPositions =
      keys.originalMaxPositionEmbeddings
      ?? raw.ropeParameters?.originalMaxPositionEmbeddings.flatMap { Int(exactly: $0) } ?? 4096
  }

  public var queryWidth: Int { numHeads * headDim }
  public var keyValueWidth: Int { numKVHeads * headDim }
  public var qkvWidth: Int { queryWidth + 2 * keyValueWidth }

  // MARK: Hugging Face weight names

  public static let embeddingName = "model.embed_tokens.weight"
  public static let finalNormName = "model.norm.weight"
  public static let headName = "lm_head.weight"
  public var headWeightName: String { tieWordEmbeddings ? Self.embeddingName : Self.headName }
}

/// Phi-3 as generic code sees it.
extension Phi3Config: Architecture {
  public func layerPrefix(_ layer: Int) -> String { "model.layers.\(layer)." }

  public func layerTensors(_ layer: Int) -> [(name: String, shape: [Int])] {
    layerSpec.tensors(prefix: layerPrefix(layer))
  }

  public var globalTensors: [(name: String, shape: [Int])] {
    var names = [
      (Self.embeddingName, [vocabSize, hiddenSize]), (Self.finalNormName, [hiddenSize]),
    ]
    if !tieWordEmbeddings { names.append((Self.headName, [vocabSize, hiddenSize])) }
    return names
  }

  public func tolerates(extraTensor name: String) -> Bool {
    name.hasSuffix("rotary_emb.inv_freq") || (name == Self.headName && tieWordEmbeddings)
  }

  public func loadLayer(_ index: Int, from folder: ModelFolder, precision: Precision) throws
    -> any DecoderLayer
  {
    try Phi3Layer.load(index, config: self, from: folder, precision: precision)
  }

  public func loadHead(from folder: ModelFolder, precision: Precision) throws
    -> any LanguageModelHead
  {
    try RMSNormHead.load(
      norm: Self.finalNormName, weight: headWeightName, hiddenSize: hiddenSize,
      vocabSize: vocabSize, eps: rmsNormEps, from: folder, precision: precision)
  }

  public func embed(_ sequences: [[Int]], batch: Batch, from folder: ModelFolder, into x: Tensor)
    throws
  {
    try Embedding.gather(Self.embeddingName, sequences, from: folder, into: x)
  }

  public func randomLayer(precision: Precision, using generator: inout SplitMix)
    -> any DecoderLayer
  {
    layerSpec.random(Phi3Layer.self, precision: precision, using: &generator)
  }

  public func randomHead(precision: Precision, using generator: inout SplitMix)
    -> any LanguageModelHead
  {
    RMSNormHead.random(
      hiddenSize: hiddenSize, vocabSize: vocabSize, eps: rmsNormEps, precision: precision,
      using: &generator)
  }
}
