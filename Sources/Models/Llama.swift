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
  static func config(_ raw: RawConfig, path: String) throws -> LlamaConfig {
    try LlamaConfig(raw, path: path, defaults: .init(ropeTheta: 10000, qkvBias: false))
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
    rope = try Self.rope(raw, path: path, headDim: headDim, defaultTheta: defaults.ropeTheta)

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
  }

  static func rope(_ raw: RawConfig, path: String, headDim: Int, defaultTheta: Double) throws
    -> Rope
  {
    let parameters = raw.ropeParameters ?? raw.ropeScaling
    let theta = raw.ropeParameters?.ropeTheta ?? raw.ropeTheta ?? defaultTheta
    if let partial = parameters?.partialRotaryFactor, partial != 1 {
      throw ModelError.unsupportedFeature(
        path: path, feature: "partial_rotary_factor \(partial)", supported: "1.0")
    }
    let type = parameters?.ropeType ?? parameters?.type ?? "default"
    func need(_ value: Double?, _ key: String) throws -> Double {
      guard let value, value > 0 else {
        throw ModelError.invalidConfig(path: path, reason: "rope \(type) needs a positive \(key)")
      }
      return value
    }
    let scaling: Rope.Scaling
    switch type {
    case "default":
      scaling = .none
    case "linear":
      scaling = .linear(factor: try need(parameters?.factor, "factor"))
    case "llama3":
      scaling = .llama3(
        factor: try need(parameters?.factor, "factor"),
        lowFrequencyFactor: try need(parameters?.lowFreqFactor, "low_freq_factor"),
        highFrequencyFactor: try need(parameters?.highFreqFactor, "high_freq_factor"),
        originalContext: try need(
          parameters?.originalMaxPositionEmbeddings, "original_max_position_embeddings"))
    default:
      throw ModelError.unsupportedFeature(
        path: path, feature: "rope type \"\(type)\"", supported: Rope.supportedTypes)
    }
    return Rope(theta: theta, dimension: headDim, scaling: scaling)
  }

  public var queryWidth: Int { numHeads * headDim }
  public var keyValueWidth: Int { numKVHeads * headDim }

  // MARK: Hugging Face weight names

  public static let embeddingName = "model.embed_tokens.weight"
  public static let finalNormName = "model.norm.weight"
  public static let headName = "lm_head.weight"

  public static func layerPrefix(_ layer: Int) -> String { "model.layers.\(layer)." }

  /// Every tensor of decoder layer `layer`, with its shape.
  public func layerTensors(_ layer: Int) -> [(name: String, shape: [Int])] {
    let p = Self.layerPrefix(layer)
    let c = hiddenSize
    var names: [(String, [Int])] = [
      (p + "input_layernorm.weight", [c]),
      (p + "self_attn.q_proj.weight", [queryWidth, c]),
      (p + "self_attn.k_proj.weight", [keyValueWidth, c]),
      (p + "self_attn.v_proj.weight", [keyValueWidth, c]),
      (p + "self_attn.o_proj.weight", [c, queryWidth]),
      (p + "post_attention_layernorm.weight", [c]),
      (p + "mlp.gate_proj.weight", [intermediateSize, c]),
      (p + "mlp.up_proj.weight", [intermediateSize, c]),
      (p + "mlp.down_proj.weight", [c, intermediateSize]),
    ]
    if qkvBias {
      names += [
        (p + "self_attn.q_proj.bias", [queryWidth]),
        (p + "self_attn.k_proj.bias", [keyValueWidth]),
        (p + "self_attn.v_proj.bias", [keyValueWidth]),
      ]
    }
    if outputBias { names.append((p + "self_attn.o_proj.bias", [c])) }
    if mlpBias {
      names += [
        (p + "mlp.gate_proj.bias", [intermediateSize]),
        (p + "mlp.up_proj.bias", [intermediateSize]),
        (p + "mlp.down_proj.bias", [c]),
      ]
    }
    return names
  }

  /// The tensors outside the decoder layers.
  public var globalTensors: [(name: String, shape: [Int])] {
    var names = [
      (Self.embeddingName, [vocabSize, hiddenSize]), (Self.finalNormName, [hiddenSize]),
    ]
    if !tieWordEmbeddings { names.append((Self.headName, [vocabSize, hiddenSize])) }
    return names
  }

  public var parametersPerLayer: Int {
    layerTensors(0).reduce(0) { $0 + $1.shape.reduce(1, *) }
  }

  public var totalParameters: Int {
    parametersPerLayer * numLayers + globalTensors.reduce(0) { $0 + $1.shape.reduce(1, *) }
  }
}

/// One decoder layer's weights, q/k/v and gate/up stacked so each group is one product.
public final class LlamaLayer: @unchecked Sendable {
  public let config: LlamaConfig
  public var inputNorm: Tensor  // [C]
  public var qkv: Linear  // [(H + 2·KV)·D, C]
  public var output: Linear  // [C, H·D]
  public var postNorm: Tensor  // [C]
  public var gateUp: Linear  // [2·I, C]
  public var down: Linear  // [C, I]

  public init(
    config: LlamaConfig, inputNorm: Tensor, qkv: Linear, output: Linear, postNorm: Tensor,
    gateUp: Linear, down: Linear
  ) {
    self.config = config
    self.inputNorm = inputNorm
    self.qkv = qkv
    self.output = output
    self.postNorm = postNorm
    self.gateUp = gateUp
    self.down = down
  }

  public static func load(
    _ layer: Int, config: LlamaConfig, from folder: ModelFolder, precision: Precision
  ) throws -> LlamaLayer {
    let p = LlamaConfig.layerPrefix(layer)
    let c = config.hiddenSize
    let i = config.intermediateSize
    let attention = p + "self_attn."
    let qkvNames = ["q_proj", "k_proj", "v_proj"].map { attention + $0 }
    let mlpNames = ["gate_proj", "up_proj"].map { p + "mlp." + $0 }
    return LlamaLayer(
      config: config,
      inputNorm: try folder.float(p + "input_layernorm.weight", shape: [c]),
      qkv: try Linear.load(
        stacking: qkvNames.map { $0 + ".weight" },
        outFeatures: [config.queryWidth, config.keyValueWidth, config.keyValueWidth],
        inFeatures: c, biases: qkvNames.map { config.qkvBias ? $0 + ".bias" : nil },
        from: folder, precision: precision),
      output: try Linear.load(
        stacking: [attention + "o_proj.weight"], outFeatures: [c], inFeatures: config.queryWidth,
        biases: [config.outputBias ? attention + "o_proj.bias" : nil], from: folder,
        precision: precision),
      postNorm: try folder.float(p + "post_attention_layernorm.weight", shape: [c]),
      gateUp: try Linear.load(
        stacking: mlpNames.map { $0 + ".weight" }, outFeatures: [i, i], inFeatures: c,
        biases: mlpNames.map { config.mlpBias ? $0 + ".bias" : nil }, from: folder,
        precision: precision),
      down: try Linear.load(
        stacking: [p + "mlp.down_proj.weight"], outFeatures: [c], inFeatures: i,
        biases: [config.mlpBias ? p + "mlp.down_proj.bias" : nil], from: folder,
        precision: precision))
  }

  /// Runs the layer over `batch.rows` rows of the residual stream `x` (`[rows, C]`) in place.
  public func forward(_ x: UnsafeMutablePointer<Float>, batch: Batch, rope: RopeTables) {
    let rows = batch.rows
    let c = config.hiddenSize
    let d = config.headDim
    let qkvWidth = config.queryWidth + 2 * config.keyValueWidth

    // Attention block.
    let normed = Tensor(uninitialized: [rows, c])
    Kernels.rmsNorm(
      x, weight: inputNorm.pointer, eps: config.rmsNormEps, out: normed.pointer, rows: rows,
      columns: c)
    let qkvOut = Tensor(uninitialized: [rows, qkvWidth])
    qkv.apply(Linear.Input(normed.pointer), into: qkvOut.pointer, rows: rows)
    config.rope.apply(
      qkvOut.pointer, rowStride: qkvWidth, heads: config.numHeads + config.numKVHeads,
      positions: batch.positions, cos: rope.cos, sin: rope.sin)
    let attended = Tensor(uninitialized: [rows, config.queryWidth])
    Attention.forward(
      qkv: qkvOut.pointer, out: attended.pointer, batch: batch,
      heads: config.numHeads, kvHeads: config.numKVHeads, headDim: d)
    output.apply(Linear.Input(attended.pointer), into: x, rows: rows, accumulate: true)

    // MLP block.
    Kernels.rmsNorm(
      x, weight: postNorm.pointer, eps: config.rmsNormEps, out: normed.pointer, rows: rows,
      columns: c)
    let fused = Tensor(uninitialized: [rows, 2 * config.intermediateSize])
    gateUp.apply(Linear.Input(normed.pointer), into: fused.pointer, rows: rows)
    let activated = Tensor(uninitialized: [rows, config.intermediateSize])
    Kernels.siluGate(
      fused.pointer, out: activated.pointer, rows: rows, width: config.intermediateSize)
    down.apply(Linear.Input(activated.pointer), into: x, rows: rows, accumulate: true)
  }
}
