import Foundation

/// OPT (Meta's Open Pre-trained Transformers, facebook/opt-125m … 66b; the paper's second
/// family), as transformers' `modeling_opt.py` computes it:
///
///     pre-norm (every size but 350m):
///       h   = x + out_proj(attention(q_proj(n)·d^-½, k_proj(n), v_proj(n))),  n = LN₁(x)
///       out = h + fc2(relu(fc1(LN₂(h))))
///     post-norm (350m, `do_layer_norm_before: false`):
///       h   = LN₁(x + out_proj(attention(…x…)))
///       out = LN₂(h + fc2(relu(fc1(h))))
///
/// LayerNorm with bias, learned positions (offset by 2) added to the embeddings, biases on
/// every Linear (`enable_bias`), no RoPE, and `word_embed_proj_dim` embeddings projected in and
/// out when narrower than the residual stream (350m).
public enum OPT {
  static func config(_ source: ConfigSource) throws -> any Architecture {
    try OPTConfig(source)
  }
}

/// The configuration of an OPT decoder.
public struct OPTConfig: Sendable, Equatable {
  public let modelType: String
  public let hiddenSize: Int
  /// `ffn_dim`.
  public let intermediateSize: Int
  public let numLayers: Int
  public let numHeads: Int
  public let vocabSize: Int
  /// `word_embed_proj_dim`: the width of the token embeddings and of the LM head's input.
  public let embeddingSize: Int
  /// `max_position_embeddings`: the learned position table has this many rows plus 2.
  public let positions: Int
  /// Pre-norm (`do_layer_norm_before`, every size but 350m) or post-norm.
  public let normBefore: Bool
  /// The final LayerNorm exists (pre-norm, and not `_remove_final_layer_norm`).
  public let finalNorm: Bool
  public let bias: Bool
  public let affineNorms: Bool
  public let tieWordEmbeddings: Bool
  /// Where the decoder's tensors live: `model.decoder.` (what transformers writes from
  /// `OPTForCausalLM`) or `decoder.` (facebook's checkpoints, saved from `OPTModel`).
  public let decoderPrefix: String
  public let layerNormEps: Float = 1e-5

  struct Keys: Decodable {
    var ffnDim: Int?
    var wordEmbedProjDim: Int?
    var doLayerNormBefore: Bool?
    var removeFinalLayerNorm: Bool?
    var enableBias: Bool?
    var layerNormElementwiseAffine: Bool?
    var activationFunction: String?

    enum CodingKeys: String, CodingKey {
      case ffnDim = "ffn_dim"
      case wordEmbedProjDim = "word_embed_proj_dim"
      case doLayerNormBefore = "do_layer_norm_before"
      case removeFinalLayerNorm = "_remove_final_layer_norm"
      case enableBias = "enable_bias"
      case layerNormElementwiseAffine = "layer_norm_elementwise_affine"
      case activationFunction = "activation_function"
    }
  }

  init(_ source: ConfigSource) throws {
    let raw = source.raw
    let path = source.path
    let keys: Keys
    do {
      keys = try JSONDecoder().decode(Keys.self, from: source.data)
    } catch {
      throw ModelError.invalidConfig(path: path, reason: "an OPT key has the wrong type")
    }
    modelType = raw.modelType ?? "opt"
    hiddenSize = try raw.require(raw.hiddenSize ?? 768, "hidden_size", path: path)
    intermediateSize = try raw.require(keys.ffnDim ?? 3072, "ffn_dim", path: path)
    numLayers = try raw.require(raw.numHiddenLayers ?? 12, "num_hidden_layers", path: path)
    numHeads = try raw.require(raw.numAttentionHeads ?? 12, "num_attention_heads", path: path)
    vocabSize = try raw.require(raw.vocabSize ?? 50272, "vocab_size", path: path)
    embeddingSize = try raw.require(
      keys.wordEmbedProjDim ?? hiddenSize, "word_embed_proj_dim", path: path)
    positions = try raw.require(
      raw.maxPositionEmbeddings ?? 2048, "max_position_embeddings", path: path)
    guard hiddenSize % numHeads == 0 else {
      throw ModelError.invalidConfig(
        path: path, reason: "hidden_size is not a multiple of num_attention_heads")
    }
    if let act = keys.activationFunction, act != "relu" {
      throw ModelError.unsupportedFeature(
        path: path, feature: "activation_function \"\(act)\"", supported: "relu")
    }
    normBefore = keys.doLayerNormBefore ?? true
    finalNorm = normBefore && !(keys.removeFinalLayerNorm ?? false)
    bias = keys.enableBias ?? true
    affineNorms = keys.layerNormElementwiseAffine ?? true
    tieWordEmbeddings = raw.tieWordEmbeddings ?? true
    decoderPrefix = Self.decoderPrefix(nextTo: path)
  }

  /// `decoder.` when the checkpoint beside config.json names its tensors from `OPTModel`
  /// (facebook's own uploads); `model.decoder.` otherwise, and for a config alone.
  static func decoderPrefix(nextTo configPath: String) -> String {
    let folder = URL(fileURLWithPath: configPath).deletingLastPathComponent()
    let bare = "decoder.embed_tokens.weight"
    let index = folder.appendingPathComponent("model.safetensors.index.json")
    if let data = FileManager.default.contents(atPath: index.path),
      let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let map = json["weight_map"] as? [String: Any]
    {
      return map[bare] != nil ? "decoder." : "model.decoder."
    }
    let single = folder.appendingPathComponent("model.safetensors")
    guard let handle = FileHandle(forReadingAtPath: single.path) else { return "model.decoder." }
    defer { try? handle.close() }
    guard let size = try? handle.read(upToCount: 8), size.count == 8 else {
      return "model.decoder."
    }
    let length = size.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    guard length < 100_000_000, let header = try? handle.read(upToCount: Int(length)) else {
      return "model.decoder."
    }
    let text = String(decoding: header, as: UTF8.self)
    return text.contains("\"\(bare)\"") ? "decoder." : "model.decoder."
  }

  public var headDim: Int { hiddenSize / numHeads }
  /// `head_dim^-0.5`, which transformers multiplies into the queries before the product.
  public var queryScale: Float { Float(pow(Double(headDim), -0.5)) }

  // MARK: Hugging Face weight names

  public var embeddingName: String { decoderPrefix + "embed_tokens.weight" }
  public var positionName: String { decoderPrefix + "embed_positions.weight" }
  public var finalNormPrefix: String { decoderPrefix + "final_layer_norm." }
  public var projectInName: String { decoderPrefix + "project_in.weight" }
  public var projectOutName: String { decoderPrefix + "project_out.weight" }
  public static let headName = "lm_head.weight"
  public var headWeightName: String { tieWordEmbeddings ? embeddingName : Self.headName }
  public var projects: Bool { embeddingSize != hiddenSize }
}
