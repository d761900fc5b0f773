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
    maxPositions = raw.maxPositionEmbeddings
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
  public func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, rope: RopeTables,
    workspace: Workspace? = nil
  ) {
    run(x, batch: batch, rope: rope, saving: nil, workspace: workspace)
  }

  /// `forward`, keeping what `backward` needs (about `4·C + (H + 2·KV)·D + H·D + 3·I` floats a
  /// row). The computation is the same, so the output is identical.
  public func forwardSaving(_ x: UnsafeMutablePointer<Float>, batch: Batch, rope: RopeTables)
    -> Activations
  {
    let saved = Activations(config: config, batch: batch)
    saved.input.pointer.update(from: x, count: batch.rows * config.hiddenSize)
    run(x, batch: batch, rope: rope, saving: saved)
    return saved
  }

  /// The one implementation of the layer's math; with `saved`, intermediates go into its
  /// buffers instead of temporaries.
  func run(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, rope: RopeTables, saving saved: Activations?,
    workspace: Workspace? = nil
  ) {
    func scratch(_ slot: Int, _ shape: [Int]) -> Tensor {
      workspace?.tensor(slot, shape) ?? Tensor(uninitialized: shape)
    }
    let rows = batch.rows
    let c = config.hiddenSize
    let d = config.headDim
    let qkvWidth = config.queryWidth + 2 * config.keyValueWidth

    // Attention block.
    let normed = saved?.normed ?? scratch(0, [rows, c])
    Kernels.rmsNorm(
      x, weight: inputNorm.pointer, eps: config.rmsNormEps, out: normed.pointer, rows: rows,
      columns: c)
    let qkvOut = saved?.qkv ?? scratch(1, [rows, qkvWidth])
    qkv.apply(Linear.Input(normed.pointer), into: qkvOut.pointer, rows: rows)
    config.rope.apply(
      qkvOut.pointer, rowStride: qkvWidth, heads: config.numHeads + config.numKVHeads,
      positions: batch.positions, cos: rope.cos, sin: rope.sin)
    let attended = saved?.attended ?? scratch(2, [rows, config.queryWidth])
    Attention.forward(
      qkv: qkvOut.pointer, out: attended.pointer, batch: batch,
      heads: config.numHeads, kvHeads: config.numKVHeads, headDim: d)
    output.apply(Linear.Input(attended.pointer), into: x, rows: rows, accumulate: true)
    saved?.residual.pointer.update(from: x, count: rows * c)

    // MLP block.
    let postNormed = saved?.postNormed ?? normed
    Kernels.rmsNorm(
      x, weight: postNorm.pointer, eps: config.rmsNormEps, out: postNormed.pointer, rows: rows,
      columns: c)
    let fused = saved?.fused ?? scratch(3, [rows, 2 * config.intermediateSize])
    gateUp.apply(Linear.Input(postNormed.pointer), into: fused.pointer, rows: rows)
    let activated = saved?.activated ?? scratch(4, [rows, config.intermediateSize])
    Kernels.siluGate(
      fused.pointer, out: activated.pointer, rows: rows, width: config.intermediateSize)
    down.apply(Linear.Input(activated.pointer), into: x, rows: rows, accumulate: true)
  }

  /// What the forward keeps for the backward.
  public final class Activations: @unchecked Sendable {
    public let batch: Batch
    public let input: Tensor  // [rows, C] the layer's input x
    public let normed: Tensor  // [rows, C] input_layernorm(x)
    public let qkv: Tensor  // [rows, (H + 2·KV)·D] queries and keys rotated
    public let attended: Tensor  // [rows, H·D] attention output, o_proj's input
    public let residual: Tensor  // [rows, C] h = x + o_proj(...)
    public let postNormed: Tensor  // [rows, C] post_attention_layernorm(h)
    public let fused: Tensor  // [rows, 2·I] gate, then up
    public let activated: Tensor  // [rows, I] silu(gate)·up, down_proj's input

    init(config: LlamaConfig, batch: Batch) {
      let rows = batch.rows
      let c = config.hiddenSize
      self.batch = batch
      input = Tensor(uninitialized: [rows, c])
      normed = Tensor(uninitialized: [rows, c])
      qkv = Tensor(uninitialized: [rows, config.queryWidth + 2 * config.keyValueWidth])
      attended = Tensor(uninitialized: [rows, config.queryWidth])
      residual = Tensor(uninitialized: [rows, c])
      postNormed = Tensor(uninitialized: [rows, c])
      fused = Tensor(uninitialized: [rows, 2 * config.intermediateSize])
      activated = Tensor(uninitialized: [rows, config.intermediateSize])
    }
  }

  /// Backward of `forward`, in place on the residual-stream gradient like the forward on the
  /// stream: `gradient` (`[rows, C]`) holds dL/d(output) on entry and dL/d(input) on exit.
  /// Parameter gradients are *added* into `gradients`; with nil, only the input gradient is
  /// computed (backpropagating through a frozen layer). Needs Float32 weights.
  ///
  ///     dh = dout + rms_norm'(h)ᵀ · gate_up'ᵀ · silu_gate'ᵀ · down'ᵀ · dout
  ///     dx = dh + rms_norm'(x)ᵀ · qkv'ᵀ · rope'ᵀ · attention'ᵀ · o_proj'ᵀ · dh
  public func backward(
    _ saved: Activations, gradient g: UnsafeMutablePointer<Float>, into gradients: Gradients?,
    rope: RopeTables
  ) {
    let batch = saved.batch
    let rows = batch.rows
    let c = config.hiddenSize
    let width = config.intermediateSize
    let qkvWidth = config.queryWidth + 2 * config.keyValueWidth

    // MLP block: g becomes dL/dh.
    let dActivated = Tensor(zeros: [rows, width])  // [rows, I]
    down.backward(
      x: saved.activated.pointer, dOut: g, dx: dActivated.pointer, gradient: gradients?.down,
      rows: rows)
    let dFused = Tensor(zeros: [rows, 2 * width])  // [rows, 2·I]
    Kernels.siluGateBackward(
      dActivated.pointer, fused: saved.fused.pointer, dFused: dFused.pointer, rows: rows,
      width: width)
    let dNormed = Tensor(zeros: [rows, c])  // [rows, C]
    gateUp.backward(
      x: saved.postNormed.pointer, dOut: dFused.pointer, dx: dNormed.pointer,
      gradient: gradients?.gateUp, rows: rows)
    Kernels.rmsNormBackward(
      dNormed.pointer, x: saved.residual.pointer, weight: postNorm.pointer,
      eps: config.rmsNormEps, dx: g, dWeight: gradients?.postNorm.pointer, rows: rows,
      columns: c)

    // Attention block: g becomes dL/dx.
    let dAttended = Tensor(zeros: [rows, config.queryWidth])  // [rows, H·D]
    output.backward(
      x: saved.attended.pointer, dOut: g, dx: dAttended.pointer, gradient: gradients?.output,
      rows: rows)
    let dQKV = Tensor(zeros: [rows, qkvWidth])  // [rows, (H + 2·KV)·D]
    Attention.backward(
      qkv: saved.qkv.pointer, dOut: dAttended.pointer, dQKV: dQKV.pointer, batch: batch,
      heads: config.numHeads, kvHeads: config.numKVHeads,
      headDim: config.headDim)
    config.rope.backward(
      dQKV.pointer, rowStride: qkvWidth, heads: config.numHeads + config.numKVHeads,
      positions: batch.positions, cos: rope.cos, sin: rope.sin)
    dNormed.data.update(repeating: 0)
    qkv.backward(
      x: saved.normed.pointer, dOut: dQKV.pointer, dx: dNormed.pointer, gradient: gradients?.qkv,
      rows: rows)
    Kernels.rmsNormBackward(
      dNormed.pointer, x: saved.input.pointer, weight: inputNorm.pointer,
      eps: config.rmsNormEps, dx: g, dWeight: gradients?.inputNorm.pointer, rows: rows,
      columns: c)
  }

  /// Recomputes the forward from the layer's input `x` (`[rows, C]`, left unchanged) and runs
  /// the backward: `gradient` holds dL/d(output) on entry and dL/d(x) on exit. For layers whose
  /// activations were not kept (frozen layers under the language-model loss).
  public func backward(
    input x: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>,
    into gradients: Gradients?, batch: Batch, rope: RopeTables
  ) {
    let scratch = Tensor(uninitialized: [batch.rows, config.hiddenSize])  // [rows, C]
    scratch.pointer.update(from: x, count: scratch.count)
    let saved = forwardSaving(scratch.pointer, batch: batch, rope: rope)
    backward(saved, gradient: gradient, into: gradients, rope: rope)
  }

  /// The trainable tensors in a fixed order (Float32 weights only), matching
  /// `Gradients.tensors`.
  public var parameters: [Tensor] {
    [inputNorm] + qkv.parameters + output.parameters + [postNorm] + gateUp.parameters
      + down.parameters
  }

  /// The parameters under their Hugging Face names (relative to the layer, e.g.
  /// `self_attn.q_proj.weight`), as views into the stacked tensors, in `layerTensors` order.
  public func namedParameters() -> [(
    name: String, shape: [Int], values: UnsafeBufferPointer<Float>
  )] {
    Self.unstack(
      config: config, inputNorm: inputNorm, qkv: (qkv.f32Weight, qkv.bias),
      output: (output.f32Weight, output.bias), postNorm: postNorm,
      gateUp: (gateUp.f32Weight, gateUp.bias), down: (down.f32Weight, down.bias))
  }

  /// The gradient of every parameter of a layer, shaped like the layer's (q/k/v and gate/up
  /// stacked).
  public final class Gradients: @unchecked Sendable {
    public let config: LlamaConfig
    public let inputNorm: Tensor  // [C]
    public let qkv: LinearGradient  // [(H + 2·KV)·D, C] (+ bias)
    public let output: LinearGradient  // [C, H·D] (+ bias)
    public let postNorm: Tensor  // [C]
    public let gateUp: LinearGradient  // [2·I, C] (+ bias)
    public let down: LinearGradient  // [C, I] (+ bias)

    /// Zeros shaped like `layer`'s parameters.
    public init(zerosFor layer: LlamaLayer) {
      config = layer.config
      inputNorm = Tensor(zeros: layer.inputNorm.shape)
      qkv = LinearGradient(zerosFor: layer.qkv)
      output = LinearGradient(zerosFor: layer.output)
      postNorm = Tensor(zeros: layer.postNorm.shape)
      gateUp = LinearGradient(zerosFor: layer.gateUp)
      down = LinearGradient(zerosFor: layer.down)
    }

    /// Every gradient tensor, in the order of `LlamaLayer.parameters`.
    public var tensors: [Tensor] {
      [inputNorm] + qkv.tensors + output.tensors + [postNorm] + gateUp.tensors + down.tensors
    }

    public func zero() {
      for tensor in tensors { tensor.data.update(repeating: 0) }
    }

    /// The gradients under the parameters' Hugging Face names, as `namedParameters`.
    public func named() -> [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)] {
      LlamaLayer.unstack(
        config: config, inputNorm: inputNorm, qkv: (qkv.weight, qkv.bias),
        output: (output.weight, output.bias), postNorm: postNorm,
        gateUp: (gateUp.weight, gateUp.bias), down: (down.weight, down.bias))
    }
  }

  /// Splits stacked q/k/v and gate/up tensors back into Hugging Face's tensors, ordered as
  /// `LlamaConfig.layerTensors` lists them.
  static func unstack(
    config: LlamaConfig, inputNorm: Tensor, qkv: (Tensor, Tensor?), output: (Tensor, Tensor?),
    postNorm: Tensor, gateUp: (Tensor, Tensor?), down: (Tensor, Tensor?)
  ) -> [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)] {
    let c = config.hiddenSize
    var found: [String: UnsafeBufferPointer<Float>] = [:]
    func split(_ tensor: Tensor, _ names: [String], rows: [Int], columns: Int) {
      var offset = 0
      for (name, count) in zip(names, rows) {
        found[name] = UnsafeBufferPointer(start: tensor.pointer + offset, count: count * columns)
        offset += count * columns
      }
    }
    let attention = ["q_proj", "k_proj", "v_proj"].map { "self_attn." + $0 }
    let qkvRows = [config.queryWidth, config.keyValueWidth, config.keyValueWidth]
    let mlp = ["mlp.gate_proj", "mlp.up_proj"]
    let i = config.intermediateSize
    split(inputNorm, ["input_layernorm.weight"], rows: [c], columns: 1)
    split(qkv.0, attention.map { $0 + ".weight" }, rows: qkvRows, columns: c)
    if let bias = qkv.1 { split(bias, attention.map { $0 + ".bias" }, rows: qkvRows, columns: 1) }
    split(output.0, ["self_attn.o_proj.weight"], rows: [c], columns: config.queryWidth)
    if let bias = output.1 { split(bias, ["self_attn.o_proj.bias"], rows: [c], columns: 1) }
    split(postNorm, ["post_attention_layernorm.weight"], rows: [c], columns: 1)
    split(gateUp.0, mlp.map { $0 + ".weight" }, rows: [i, i], columns: c)
    if let bias = gateUp.1 { split(bias, mlp.map { $0 + ".bias" }, rows: [i, i], columns: 1) }
    split(down.0, ["mlp.down_proj.weight"], rows: [c], columns: i)
    if let bias = down.1 { split(bias, ["mlp.down_proj.bias"], rows: [c], columns: 1) }
    let prefix = LlamaConfig.layerPrefix(0)
    return config.layerTensors(0).map { entry in
      let name = String(entry.name.dropFirst(prefix.count))
      guard let values = found[name] else {
        preconditionFailure("layer tensor \(name) has no stacked counterpart")
      }
      return (name, entry.shape, values)
    }
  }
}
