import Foundation

/// Gemma 3 (`gemma3_text`: the 270M and 1B models and the text part of the larger ones) and
/// Gemma 2, as transformers computes them:
///
///     h   = x + post_attention_norm(o_proj(attention(rope(qn(q)), rope(kn(k)), v))),  q, k, v from input_norm(x)
///     out = h + post_feedforward_norm(down(gelu_tanh(gate(m)) · up(m))),             m = pre_feedforward_norm(h)
///
/// every norm being Gemma's `x / rms(x) · (1 + w)` in Float32, the q/k norms (per head, Gemma 3
/// only) before RoPE, scores scaled by `query_pre_attn_scalar^-½` (and soft-capped, Gemma 2),
/// sliding-window layers and full layers (each with its own RoPE in Gemma 3), the embeddings
/// multiplied by √hidden and the logits optionally soft-capped (Gemma 2).
public enum Gemma {
  /// Whether the attention kernel computes sliding windows (it does); without, a sequence longer
  /// than the window would be refused (`maxAttentionSpan`) and windowed layers would attend
  /// causally over sequences the window does not cut.
  static let windowedAttention = true

  static func gemma3(_ source: ConfigSource) throws -> any Architecture {
    try GemmaConfig(source, family: .gemma3)
  }

  static func gemma2(_ source: ConfigSource) throws -> any Architecture {
    try GemmaConfig(source, family: .gemma2)
  }
}

/// The configuration of a Gemma 2 or Gemma 3 decoder.
public struct GemmaConfig: Sendable, Equatable {
  public enum Family: Sendable, Equatable {
    /// Gemma 3: per-head q/k norms, a RoPE per layer type, a sliding layer in every six.
    case gemma3
    /// Gemma 2: soft-capped scores and logits, one RoPE, sliding layers at even indices.
    case gemma2
  }

  public let family: Family
  public let modelType: String
  public let hiddenSize: Int
  public let intermediateSize: Int
  public let numLayers: Int
  public let numHeads: Int
  public let numKVHeads: Int
  public let headDim: Int
  public let vocabSize: Int
  public let rmsNormEps: Float
  public let tieWordEmbeddings: Bool
  /// Biases on q, k, v and o (`attention_bias`).
  public let attentionBias: Bool
  /// Scores are multiplied by `query_pre_attn_scalar^-½`.
  public let attentionScale: Float
  public let attentionSoftcap: Float?
  public let finalSoftcap: Float?
  public let slidingWindow: Int?
  /// Per layer: whether it attends through the sliding window.
  public let sliding: [Bool]
  /// RoPE of the full-attention layers and of the sliding ones (the same for Gemma 2).
  public let fullRope: Rope
  public let slidingRope: Rope
  public let maxPositions: Int?

  init(_ source: ConfigSource, family: Family) throws {
    let raw = source.raw
    let path = source.path
    let keys: GemmaKeys
    do {
      keys = try JSONDecoder().decode(GemmaKeys.self, from: source.data)
    } catch {
      throw ModelError.invalidConfig(
        path: path, reason: "a Gemma key (query_pre_attn_scalar, soft-capping) has the wrong type")
    }
    self.family = family
    modelType = raw.modelType ?? (family == .gemma3 ? "gemma3_text" : "gemma2")
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
    headDim = try raw.require(raw.headDim ?? 256, "head_dim", path: path)
    guard headDim % 2 == 0 else {
      throw ModelError.invalidConfig(path: path, reason: "head_dim \(headDim) must be even")
    }
    rmsNormEps = Float(raw.rmsNormEps ?? 1e-6)
    let activation = keys.hiddenActivation ?? raw.hiddenAct ?? "gelu_pytorch_tanh"
    guard activation == "gelu_pytorch_tanh" else {
      throw ModelError.unsupportedFeature(
        path: path, feature: "hidden_activation \"\(activation)\"", supported: "gelu_pytorch_tanh")
    }
    if keys.useBidirectionalAttention == true {
      throw ModelError.unsupportedFeature(
        path: path, feature: "use_bidirectional_attention", supported: "causal attention")
    }
    tieWordEmbeddings = raw.tieWordEmbeddings ?? true
    attentionBias = raw.attentionBias ?? false
    let scalar = keys.queryPreAttnScalar ?? 256
    guard scalar > 0 else {
      throw ModelError.invalidConfig(path: path, reason: "query_pre_attn_scalar must be positive")
    }
    attentionScale = Float(pow(scalar, -0.5))
    func cap(_ value: Double?, _ key: String) throws -> Float? {
      guard let value else { return nil }
      guard value > 0 else {
        throw ModelError.invalidConfig(path: path, reason: "\(key) must be positive or null")
      }
      return Float(value)
    }
    // Gemma 2's configuration class defaults them to 50 and 30; Gemma 3's to none.
    let capDefaults: (Double?, Double?) = family == .gemma2 ? (50, 30) : (nil, nil)
    attentionSoftcap = try cap(
      keys.has("attn_logit_softcapping") ? keys.attnLogitSoftcapping : capDefaults.0,
      "attn_logit_softcapping")
    finalSoftcap = try cap(
      keys.has("final_logit_softcapping") ? keys.finalLogitSoftcapping : capDefaults.1,
      "final_logit_softcapping")
    slidingWindow =
      try raw.slidingWindow.map { try raw.require($0, "sliding_window", path: path) }
      ?? (keys.has("sliding_window") ? nil : 4096)

    if let types = raw.layerTypes {
      guard types.count == numLayers else {
        throw ModelError.invalidConfig(
          path: path, reason: "layer_types has \(types.count) entries for \(numLayers) layers")
      }
      if let other = types.first(where: { $0 != "full_attention" && $0 != "sliding_attention" }) {
        throw ModelError.unsupportedFeature(
          path: path, feature: "layer type \"\(other)\"",
          supported: "full_attention, sliding_attention")
      }
      sliding = types.map { $0 == "sliding_attention" }
    } else {
      // transformers' rule when only the period is given: every `pattern`-th layer is full.
      let pattern = keys.slidingWindowPattern ?? (family == .gemma3 ? 6 : 2)
      guard pattern > 0 else {
        throw ModelError.invalidConfig(
          path: path, reason: "sliding_window_pattern must be positive")
      }
      sliding = (0..<numLayers).map { ($0 + 1) % pattern != 0 }
    }
    if sliding.contains(true) && slidingWindow == nil {
      throw ModelError.invalidConfig(
        path: path, reason: "sliding_attention layers need a sliding_window")
    }

    (fullRope, slidingRope) = try Self.ropes(
      raw, keys: keys, family: family, path: path, dimension: headDim)
    maxPositions = raw.maxPositionEmbeddings
  }

  /// The RoPE of the full layers and of the sliding ones.
  static func ropes(
    _ raw: RawConfig, keys: GemmaKeys, family: Family, path: String, dimension: Int
  ) throws -> (full: Rope, sliding: Rope) {
    switch family {
    case .gemma2:
      let rope = try Rope(raw, path: path, dimension: dimension, defaultTheta: 10000)
      return (rope, rope)
    case .gemma3:
      if let perType = keys.ropePerLayerType {
        // transformers 5: one set of RoPE parameters per layer type.
        func rope(_ type: String, _ theta: Double) throws -> Rope {
          var one = RawConfig()
          one.ropeParameters = perType[type]
          return try Rope(one, path: path, dimension: dimension, defaultTheta: theta)
        }
        return (try rope("full_attention", 1_000_000), try rope("sliding_attention", 10000))
      }
      // transformers 4: rope_theta and rope_scaling for the full layers, rope_local_base_freq
      // (unscaled) for the sliding ones.
      var local = RawConfig()
      local.ropeTheta = keys.ropeLocalBaseFreq ?? 10000
      return (
        try Rope(raw, path: path, dimension: dimension, defaultTheta: 1_000_000),
        try Rope(local, path: path, dimension: dimension, defaultTheta: 10000)
      )
    }
  }

  public var queryWidth: Int { numHeads * headDim }
  public var keyValueWidth: Int { numKVHeads * headDim }
  /// Gemma 3 normalises each query and key head before RoPE.
  public var qkNorm: Bool { family == .gemma3 }

  /// The window layer `index` attends through, nil for a full-attention layer.
  public func window(_ index: Int) -> Int? { sliding[index] ? slidingWindow : nil }
  public func rope(_ index: Int) -> Rope { sliding[index] ? slidingRope : fullRope }

  /// The layer types as config.json spells them.
  public var layerTypes: [String] { sliding.map { $0 ? "sliding_attention" : "full_attention" } }
}

/// The keys only Gemma configurations have, decoded from config.json's bytes.
struct GemmaKeys: Decodable {
  var present: Set<String> = []
  var hiddenActivation: String?
  var queryPreAttnScalar: Double?
  var attnLogitSoftcapping: Double?
  var finalLogitSoftcapping: Double?
  var ropeLocalBaseFreq: Double?
  var slidingWindowPattern: Int?
  var useBidirectionalAttention: Bool?
  /// `rope_parameters` keyed by layer type (transformers 5's Gemma 3 layout); nil when the
  /// parameters are one flat set.
  var ropePerLayerType: [String: RawConfig.RopeParameters]?

  struct Key: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  init(from decoder: Decoder) throws {
    let container = try decoder.container(keyedBy: Key.self)
    present = Set(container.allKeys.map(\.stringValue))
    func value<T: Decodable>(_ key: String) throws -> T? {
      try container.decodeIfPresent(T.self, forKey: Key(key))
    }
    hiddenActivation = try value("hidden_activation")
    queryPreAttnScalar = try value("query_pre_attn_scalar")
    attnLogitSoftcapping = try value("attn_logit_softcapping")
    finalLogitSoftcapping = try value("final_logit_softcapping")
    ropeLocalBaseFreq = try value("rope_local_base_freq")
    slidingWindowPattern = try value("sliding_window_pattern")
    useBidirectionalAttention = try value("use_bidirectional_attention")
    let layered = try? container.decodeIfPresent(
      [String: RawConfig.RopeParameters].self, forKey: Key("rope_parameters"))
    if let layered, layered.keys.contains(where: { $0.hasSuffix("_attention") }) {
      ropePerLayerType = layered
    }
  }

  func has(_ key: String) -> Bool { present.contains(key) }
}
