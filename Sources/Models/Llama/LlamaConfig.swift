import Checkpoint
import Foundation
import Tensors

/// The Llama decoder (also the computation of Mistral and Qwen2):
///
///     h   = x + o_proj(attention(rope(q_proj(n)), rope(k_proj(n)), v_proj(n))),  n = rms_norm(x)
///     out = h + down_proj(silu(gate_proj(m)) · up_proj(m)),                       m = rms_norm(h)
///
/// with causal grouped-query attention. Weight names are Hugging Face's.
public enum Llama {
  static func config(_ source: ConfigSource) throws -> any Architecture {
    try LlamaConfig(
      source.raw, path: source.path, defaults: .init(ropeTheta: 10000, qkvBias: false))
  }
}

/// The configuration of a Llama-family decoder.
public struct LlamaConfig: Sendable, Equatable {
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
  /// Biases on q, k and v (Qwen2, or Llama with `attention_bias`).
  public let qkvBias: Bool
  /// Bias on o_proj (Llama's `attention_bias`).
  public let outputBias: Bool
  public let mlpBias: Bool
  /// Sequences longer than this would need sliding-window attention, which is not implemented.
  public let maxAttentionSpan: Int?
  /// The context length the model was trained for (`max_position_embeddings`), if given.
  public let maxPositions: Int?

  struct Defaults {
    var ropeTheta: Double
    var qkvBias: Bool
    var slidingWindow: Int? = nil
  }

  init(_ raw: RawConfig, path: String, defaults: Defaults) throws {
    modelType = raw.modelType ?? "llama"
    hiddenSize = try raw.require(raw.hiddenSize, "hidden_size", path: path)
    intermediateSize = try raw.require(raw.intermediateSize, "intermediate_size", path: path)
    numLayers = try raw.require(raw.numHiddenLayers, "num_hidden_layers", path: path)
    numHeads = try raw.require(raw.numAttentionHeads, "num_attention_heads", path: path)
    numKVHeads = try raw.require(
      raw.numKeyValueHeads ?? numHeads, "num_key_value_heads", path: path)
    vocabSize = try raw.require(raw.vocabSize, "vocab_size", path: path)
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
    guard headDim % 2 == 0 else {
      throw ModelError.invalidConfig(path: path, reason: "head_dim \(headDim) must be even")
    }
    rmsNormEps = Float(raw.rmsNormEps ?? 1e-6)
    if let act = raw.hiddenAct, act != "silu" {
      throw ModelError.unsupportedFeature(
        path: path, feature: "hidden_act \"\(act)\"", supported: "silu")
    }
    tieWordEmbeddings = raw.tieWordEmbeddings ?? false
    let attentionBias = raw.attentionBias ?? false
    qkvBias = defaults.qkvBias || attentionBias
    outputBias = attentionBias
    mlpBias = raw.mlpBias ?? false
    rope = try Rope(raw, path: path, dimension: headDim, defaultTheta: defaults.ropeTheta)

    if let types = raw.layerTypes {
      guard types.count == numLayers else {
        throw ModelError.invalidConfig(
          path: path,
          reason: "layer_types has \(types.count) entries for \(numLayers) layers")
      }
      if let other = types.first(where: { $0 != "full_attention" && $0 != "sliding_attention" }) {
        throw ModelError.unsupportedFeature(
          path: path, feature: "layer type \"\(other)\"",
          supported: "full_attention, sliding_attention")
      }
    }
    maxAttentionSpan = defaults.slidingWindow
    maxPositions = raw.maxPositionEmbeddings
  }

  public var queryWidth: Int { numHeads * headDim }
  public var keyValueWidth: Int { numKVHeads * headDim }

  // MARK: Hugging Face weight names

  public static let embeddingName = "model.embed_tokens.weight"
  public static let finalNormName = "model.norm.weight"
  public static let headName = "lm_head.weight"

  public static func layerPrefix(_ layer: Int) -> String { "model.layers.\(layer)." }

  /// Every tensor of decoder layer `layer`, with its shape, in parameter-table order.
  public func layerTensors(_ layer: Int) -> [(name: String, shape: [Int])] {
    let p = Self.layerPrefix(layer)
    return LlamaLayer.table(self).flatMap { $0.parts.map { (p + $0.name, $0.shape) } }
  }

  /// The LM head's weight: its own tensor, or the embeddings when they are tied.
  public var headWeightName: String { tieWordEmbeddings ? Self.embeddingName : Self.headName }

  /// The tensors outside the decoder layers.
  public var globalTensors: [(name: String, shape: [Int])] {
    var names = [
      (Self.embeddingName, [vocabSize, hiddenSize]), (Self.finalNormName, [hiddenSize]),
    ]
    if !tieWordEmbeddings { names.append((Self.headName, [vocabSize, hiddenSize])) }
    return names
  }
}
