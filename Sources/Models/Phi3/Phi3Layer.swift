import Checkpoint
import Foundation
import Tensors

/// One Phi-3 decoder layer: the checkpoint's fused `qkv_proj` and `gate_up_proj` are already
/// the stacked products the computation wants.
///
///     h   = x + o_proj(attention(rope(q), rope(k), v)),  [q k v] = qkv_proj(rms_norm(x))
///     out = h + down_proj(up · silu(gate)),              [gate up] = gate_up_proj(rms_norm(h))
public final class Phi3Layer: DecoderLayer, @unchecked Sendable {
  public let config: Phi3Config
  public var inputNorm: Tensor  // [C]
  public var qkv: Linear  // [(H + 2·KV)·D, C]
  public var output: Linear  // [C, H·D]
  public var postNorm: Tensor  // [C]
  public var gateUp: Linear  // [2·I, C]
  public var down: Linear  // [C, I]

  public init(
    config: Phi3Config, inputNorm: Tensor, qkv: Linear, output: Linear, postNorm: Tensor,
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

  public var hiddenSize: Int { config.hiddenSize }

  public static func load(
    _ layer: Int, config: Phi3Config, from folder: ModelFolder, precision: Precision
  ) throws -> Phi3Layer {
    let p = config.layerPrefix(layer)
    let c = config.hiddenSize
    let i = config.intermediateSize
    func linear(_ name: String, out: Int, in width: Int) throws -> Linear {
      try Linear.load(
        stacking: [p + name + ".weight"], outFeatures: [out], inFeatures: width, biases: [nil],
        from: folder, precision: precision)
    }
    return Phi3Layer(
      config: config,
      inputNorm: try folder.float(p + "input_layernorm.weight", shape: [c]),
      qkv: try linear("self_attn.qkv_proj", out: config.qkvWidth, in: c),
      output: try linear("self_attn.o_proj", out: c, in: config.queryWidth),
      postNorm: try folder.float(p + "post_attention_layernorm.weight", shape: [c]),
      gateUp: try linear("mlp.gate_up_proj", out: 2 * i, in: c),
      down: try linear("mlp.down_proj", out: c, in: i))
  }

  public static func random(
    config: Phi3Config, precision: Precision, using generator: inout SplitMix
  ) -> Phi3Layer {
    let c = config.hiddenSize
    let ones = { Tensor(shape: [c], values: .init(repeating: 1, count: c)) }
    func linear(_ out: Int, _ width: Int) -> Linear {
      .random(
        outFeatures: out, inFeatures: width, bias: false, precision: precision, using: &generator)
    }
    return Phi3Layer(
      config: config, inputNorm: ones(), qkv: linear(config.qkvWidth, c),
      output: linear(c, config.queryWidth), postNorm: ones(),
      gateUp: linear(2 * config.intermediateSize, c), down: linear(c, config.intermediateSize))
  }

  // MARK: Forward

  public func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext, workspace: Workspace?
  ) {
    run(x, batch: batch, context: context, saving: nil, workspace: workspace)
  }

  public func forwardSaving(_ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext)
    -> any SavedActivations
  {
    forwardSaving(x, batch: batch, context: context) as Activations
  }

  func forwardSaving(_ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext)
    -> Activations
  {
    let saved = Activations(config: config, batch: batch)
    saved.input.pointer.update(from: x, count: batch.rows * config.hiddenSize)
    run(x, batch: batch, context: context, saving: saved)
    return saved
  }

  /// The one implementation of the layer's math; with `saved`, intermediates go into its
  /// buffers instead of temporaries.
  func run(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext,
    saving saved: Activations?, workspace: Workspace? = nil
  ) {
    func scratch(_ slot: Int, _ shape: [Int]) -> Tensor {
      workspace?.tensor(slot, shape) ?? Tensor(uninitialized: shape)
    }
    let rows = batch.rows
    let c = config.hiddenSize
    let width = config.qkvWidth

    // Attention block.
    let normed = saved?.normed ?? scratch(0, [rows, c])
    Kernels.rmsNorm(
      x, weight: inputNorm.pointer, eps: config.rmsNormEps, out: normed.pointer, rows: rows,
      columns: c)
    let qkvOut = saved?.qkv ?? scratch(1, [rows, width])
    qkv.apply(Linear.Input(normed.pointer), into: qkvOut.pointer, rows: rows)
    config.rope.apply(
      qkvOut.pointer, rowStride: width, heads: config.numHeads + config.numKVHeads,
      batch: batch, context: context)
    let attended = saved?.attended ?? scratch(2, [rows, config.queryWidth])
    Attention.forward(
      qkv: qkvOut.pointer, out: attended.pointer, batch: batch, heads: config.numHeads,
      kvHeads: config.numKVHeads, headDim: config.headDim, window: config.window)
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
  public final class Activations: SavedActivations, @unchecked Sendable {
    public let batch: Batch
    public let input: Tensor  // [rows, C] the layer's input x
    public let normed: Tensor  // [rows, C] input_layernorm(x)
    public let qkv: Tensor  // [rows, (H + 2·KV)·D] queries and keys rotated
    public let attended: Tensor  // [rows, H·D] o_proj's input
    public let residual: Tensor  // [rows, C] h = x + o_proj(...)
    public let postNormed: Tensor  // [rows, C] post_attention_layernorm(h)
    public let fused: Tensor  // [rows, 2·I] gate, then up
    public let activated: Tensor  // [rows, I] down_proj's input

    init(config: Phi3Config, batch: Batch) {
      let rows = batch.rows
      let c = config.hiddenSize
      self.batch = batch
      input = Tensor(uninitialized: [rows, c])
      normed = Tensor(uninitialized: [rows, c])
      qkv = Tensor(uninitialized: [rows, config.qkvWidth])
      attended = Tensor(uninitialized: [rows, config.queryWidth])
      residual = Tensor(uninitialized: [rows, c])
      postNormed = Tensor(uninitialized: [rows, c])
      fused = Tensor(uninitialized: [rows, 2 * config.intermediateSize])
      activated = Tensor(uninitialized: [rows, config.intermediateSize])
    }
  }

  // MARK: Backward

  public func backward(
    _ saved: any SavedActivations, gradient g: UnsafeMutablePointer<Float>,
    into gradients: LayerGradients?, context: LayerContext
  ) {
    let saved = saved as! Activations
    let batch = saved.batch
    let rows = batch.rows
    let c = config.hiddenSize
    let i = config.intermediateSize
    let width = config.qkvWidth
    let grad = gradients.map(\.tensors)
    func linear(_ field: Field) -> LinearGradient? {
      grad.map { LinearGradient(weight: $0[Self.index(field)], bias: nil) }
    }

    // MLP block: g becomes dL/dh.
    let dActivated = Tensor(zeros: [rows, i])  // [rows, I]
    down.backward(
      x: saved.activated.pointer, dOut: g, dx: dActivated.pointer, gradient: linear(.down),
      rows: rows)
    let dFused = Tensor(zeros: [rows, 2 * i])  // [rows, 2·I]
    Kernels.siluGateBackward(
      dActivated.pointer, fused: saved.fused.pointer, dFused: dFused.pointer, rows: rows,
      width: i)
    let dNormed = Tensor(zeros: [rows, c])  // [rows, C]
    gateUp.backward(
      x: saved.postNormed.pointer, dOut: dFused.pointer, dx: dNormed.pointer,
      gradient: linear(.gateUp), rows: rows)
    Kernels.rmsNormBackward(
      dNormed.pointer, x: saved.residual.pointer, weight: postNorm.pointer,
      eps: config.rmsNormEps, dx: g, dWeight: grad?[Self.index(.postNorm)].pointer, rows: rows,
      columns: c)

    // Attention block: g becomes dL/dx.
    let dAttended = Tensor(zeros: [rows, config.queryWidth])  // [rows, H·D]
    output.backward(
      x: saved.attended.pointer, dOut: g, dx: dAttended.pointer, gradient: linear(.output),
      rows: rows)
    let dQKV = Tensor(zeros: [rows, width])  // [rows, (H + 2·KV)·D]
    Attention.backward(
      qkv: saved.qkv.pointer, dOut: dAttended.pointer, dQKV: dQKV.pointer, batch: batch,
      heads: config.numHeads, kvHeads: config.numKVHeads, headDim: config.headDim,
      window: config.window)
    // The rotation is orthogonal: its backward is the inverse rotation.
    config.rope.apply(
      dQKV.pointer, rowStride: width, heads: config.numHeads + config.numKVHeads, batch: batch,
      context: context, inverse: true)
    dNormed.data.update(repeating: 0)
    qkv.backward(
      x: saved.normed.pointer, dOut: dQKV.pointer, dx: dNormed.pointer, gradient: linear(.qkv),
      rows: rows)
    Kernels.rmsNormBackward(
      dNormed.pointer, x: saved.input.pointer, weight: inputNorm.pointer,
      eps: config.rmsNormEps, dx: g, dWeight: grad?[Self.index(.inputNorm)].pointer, rows: rows,
      columns: c)
  }
}

// MARK: - Parameters

/// The Phi-3 layer's one parameter table: every stored tensor is one checkpoint tensor.
extension Phi3Layer {
  enum Field: Int, CaseIterable {
    case inputNorm, qkv, output, postNorm, gateUp, down
  }

  struct TableEntry {
    let field: Field
    let parts: [(name: String, shape: [Int])]
  }

  static func table(_ config: Phi3Config) -> [TableEntry] {
    let c = config.hiddenSize
    let i = config.intermediateSize
    return [
      TableEntry(field: .inputNorm, parts: [("input_layernorm.weight", [c])]),
      TableEntry(field: .qkv, parts: [("self_attn.qkv_proj.weight", [config.qkvWidth, c])]),
      TableEntry(field: .output, parts: [("self_attn.o_proj.weight", [c, config.queryWidth])]),
      TableEntry(field: .postNorm, parts: [("post_attention_layernorm.weight", [c])]),
      TableEntry(field: .gateUp, parts: [("mlp.gate_up_proj.weight", [2 * i, c])]),
      TableEntry(field: .down, parts: [("mlp.down_proj.weight", [c, i])]),
    ]
  }

  /// Every field is always present, so a field's index in the table is its case's.
  static func index(_ field: Field) -> Int { field.rawValue }

  func tensor(_ field: Field) -> Tensor {
    switch field {
    case .inputNorm: return inputNorm
    case .qkv: return qkv.f32Weight
    case .output: return output.f32Weight
    case .postNorm: return postNorm
    case .gateUp: return gateUp.f32Weight
    case .down: return down.f32Weight
    }
  }

  public var parameterTable: [LayerParameter] {
    Self.table(config).map { LayerParameter(tensor($0.field), parts: $0.parts) }
  }
}

extension Phi3Layer: AttentionSwitching {
  /// A zero o_proj makes the layer `x + MLP(x)`; the MLP block's tensors train.
  public func switchOffAttention() -> [Int] {
    output.f32Weight.data.update(repeating: 0)
    return [Field.postNorm, .gateUp, .down].map(Self.index)
  }
}

extension Phi3Layer: MLPOutputFolding {
  public var mlpOutputProjection: (weight: String, bias: String?) {
    ("mlp.down_proj.weight", nil)
  }

  public func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext,
    beforeMLP: UnsafeMutablePointer<Float>
  ) {
    let saved: Activations = forwardSaving(x, batch: batch, context: context)
    beforeMLP.update(from: saved.residual.pointer, count: saved.residual.count)
  }
}
