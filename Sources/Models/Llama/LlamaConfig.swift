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
    try LlamaConfig(source, defaults: .init(ropeTheta: 10000, qkvBias: false))
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
  /// Each layer's sliding window (a query at position i attends to keys j with
  /// `i − window < j ≤ i`), nil for a layer with full causal attention.
  public let layerWindows: [Int?]
  /// Every length is computed exactly (sliding windows included).
  public var maxAttentionSpan: Int? { nil }
  /// The context length the model was trained for (`max_position_embeddings`), if given.
  public let maxPositions: Int?

  /// How a family places sliding windows on its layers, exactly as its transformers
  /// configuration class does.
  enum Windows {
    /// Full attention everywhere (Llama).
    case none
    /// Mistral: every layer slides over `sliding_window` (4096 when the key is absent; null
    /// turns it off).
    case everyLayer
    /// Qwen2 and Qwen3: a window only with `use_sliding_window`; the layers are those
    /// `layer_types` names `sliding_attention`, or else layers `max_window_layers...`.
    case qwen
  }

  struct Defaults {
    var ropeTheta: Double
    var qkvBias: Bool
    var windows: Windows = .none
    /// `head_dim` when config.json has none (Qwen3's 128); nil: hidden_size / heads.
    var headDim: Int? = nil
  }

  init(_ source: ConfigSource, defaults: Defaults) throws {
    let raw = source.raw
    let path = source.path
    modelType = raw.modelType ?? "llama"
    hiddenSize = try source.positive("hidden_size", max: ConfigLimits.hiddenSize)
    intermediateSize = try source.positive(
      "intermediate_size", max: ConfigLimits.intermediateSize)
    numLayers = try source.positive("num_hidden_layers", max: ConfigLimits.layers)
    numHeads = try source.positive("num_attention_heads", max: ConfigLimits.heads)
    numKVHeads = try source.positive(
      "num_key_value_heads", max: ConfigLimits.heads, default: numHeads)
    vocabSize = try source.positive("vocab_size", max: ConfigLimits.vocabSize)
    guard numHeads % numKVHeads == 0 else {
      throw ModelError.invalidConfig(
        path: path,
        reason:
          "num_attention_heads (\(numHeads)) is not a multiple of num_key_value_heads (\(numKVHeads))"
      )
    }
    if let dim = try source.optionalPositive("head_dim", max: ConfigLimits.headDim) {
      headDim = dim
    } else if let dim = defaults.headDim {
      headDim = dim
    } else {
      guard hiddenSize % numHeads == 0 else {
        throw ModelError.invalidConfig(
          path: path, reason: "hidden_size is not a multiple of num_attention_heads")
      }
      headDim = hiddenSize / numHeads
      guard headDim <= ConfigLimits.headDim else {
        throw ModelError.invalidConfig(
          path: path,
          reason: "hidden_size / num_attention_heads is \(headDim), above \(ConfigLimits.headDim)")
      }
    }
    guard headDim % 2 == 0 else {
      throw ModelError.invalidConfig(path: path, reason: "head_dim \(headDim) must be even")
    }
    // Widths of the attention products; bounded above, checked all the same.
    _ = try source.product([numHeads, headDim], "num_attention_heads × head_dim")
    rmsNormEps = Float(raw.rmsNormEps ?? 1e-6)
    guard rmsNormEps.isFinite, rmsNormEps >= 0 else {
      throw ModelError.invalidConfig(path: path, reason: "rms_norm_eps must be a number ≥ 0")
    }
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
    layerWindows = try Self.windows(source, defaults.windows, layers: numLayers)
    maxPositions = try source.optionalPositive(
      "max_position_embeddings", max: ConfigLimits.positions)
  }

  /// Each layer's window, as transformers' configuration classes place them.
  static func windows(_ source: ConfigSource, _ rule: Windows, layers: Int) throws -> [Int?] {
    // transformers' default `sliding_window` (4096) holds only when the key is absent.
    func window() throws -> Int? {
      guard source.has("sliding_window") else { return 4096 }
      return try source.optionalPositive("sliding_window", max: ConfigLimits.positions)
    }
    switch rule {
    case .none:
      return Array(repeating: nil, count: layers)
    case .everyLayer:
      return Array(repeating: try window(), count: layers)
    case .qwen:
      let window = source.raw.useSlidingWindow == true ? try window() : nil
      let firstSliding = try source.count(
        "max_window_layers", max: ConfigLimits.layers, default: 28)
      let types =
        source.raw.layerTypes
        ?? (0..<layers).map {
          window != nil && $0 >= firstSliding ? "sliding_attention" : "full_attention"
        }
      return try types.map { type in
        guard type == "sliding_attention" else { return nil }
        guard let window else {
          throw ModelError.invalidConfig(
            path: source.path,
            reason:
              "layer_types names sliding_attention layers, but no sliding_window is set (use_sliding_window)"
          )
        }
        return window
      }
    }
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
    layerSpec(window: nil).tensors(prefix: Self.layerPrefix(layer))
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
