import Checkpoint
import Foundation
import Tensors

/// One Gemma decoder layer (see `Gemma`): q/k/v and gate/up stacked so each group is one
/// product, every norm stored as the checkpoint's `w` and applied as `1 + w`.
public final class GemmaLayer: DecoderLayer, @unchecked Sendable {
  public let config: GemmaConfig
  /// Whether this layer attends through the sliding window, and the RoPE of its type.
  public let isSliding: Bool
  public let rope: Rope
  public var inputNorm: Tensor  // [C]
  public var qkv: Linear  // [(H + 2·KV)·D, C]
  public var queryNorm: Tensor?  // [D] Gemma 3
  public var keyNorm: Tensor?  // [D] Gemma 3
  public var output: Linear  // [C, H·D]
  public var postAttentionNorm: Tensor  // [C]
  public var preFeedforwardNorm: Tensor  // [C]
  public var gateUp: Linear  // [2·I, C]
  public var down: Linear  // [C, I]
  public var postFeedforwardNorm: Tensor  // [C]

  public init(
    config: GemmaConfig, index: Int, inputNorm: Tensor, qkv: Linear, queryNorm: Tensor?,
    keyNorm: Tensor?, output: Linear, postAttentionNorm: Tensor, preFeedforwardNorm: Tensor,
    gateUp: Linear, down: Linear, postFeedforwardNorm: Tensor
  ) {
    self.config = config
    isSliding = config.sliding[index]
    rope = config.rope(index)
    self.inputNorm = inputNorm
    self.qkv = qkv
    self.queryNorm = queryNorm
    self.keyNorm = keyNorm
    self.output = output
    self.postAttentionNorm = postAttentionNorm
    self.preFeedforwardNorm = preFeedforwardNorm
    self.gateUp = gateUp
    self.down = down
    self.postFeedforwardNorm = postFeedforwardNorm
  }

  public var hiddenSize: Int { config.hiddenSize }

  /// The window passed to attention: only once the kernel computes windows (until then the
  /// architecture refuses sequences the window would cut, where a window changes nothing).
  var attentionWindow: Int? {
    Gemma.windowedAttention && isSliding ? config.slidingWindow : nil
  }

  public static func load(
    _ layer: Int, config: GemmaConfig, from folder: ModelFolder, precision: Precision
  ) throws -> GemmaLayer {
    let p = config.layerPrefix(layer)
    let c = config.hiddenSize
    let i = config.intermediateSize
    let d = config.headDim
    let attention = p + "self_attn."
    let qkvNames = ["q_proj", "k_proj", "v_proj"].map { attention + $0 }
    let mlpNames = ["gate_proj", "up_proj"].map { p + "mlp." + $0 }
    func norm(_ name: String, _ width: Int) throws -> Tensor {
      try folder.float(p + name + ".weight", shape: [width])
    }
    return GemmaLayer(
      config: config, index: layer,
      inputNorm: try norm("input_layernorm", c),
      qkv: try Linear.load(
        stacking: qkvNames.map { $0 + ".weight" },
        outFeatures: [config.queryWidth, config.keyValueWidth, config.keyValueWidth],
        inFeatures: c, biases: qkvNames.map { config.attentionBias ? $0 + ".bias" : nil },
        from: folder, precision: precision),
      queryNorm: config.qkNorm ? try norm("self_attn.q_norm", d) : nil,
      keyNorm: config.qkNorm ? try norm("self_attn.k_norm", d) : nil,
      output: try Linear.load(
        stacking: [attention + "o_proj.weight"], outFeatures: [c], inFeatures: config.queryWidth,
        biases: [config.attentionBias ? attention + "o_proj.bias" : nil], from: folder,
        precision: precision),
      postAttentionNorm: try norm("post_attention_layernorm", c),
      preFeedforwardNorm: try norm("pre_feedforward_layernorm", c),
      gateUp: try Linear.load(
        stacking: mlpNames.map { $0 + ".weight" }, outFeatures: [i, i], inFeatures: c,
        biases: [nil, nil], from: folder, precision: precision),
      down: try Linear.load(
        stacking: [p + "mlp.down_proj.weight"], outFeatures: [c], inFeatures: i, biases: [nil],
        from: folder, precision: precision),
      postFeedforwardNorm: try norm("post_feedforward_layernorm", c))
  }

  /// A layer of random weights shaped like layer `index` of `config`, for benchmarks.
  public static func random(
    index: Int, config: GemmaConfig, precision: Precision, using generator: inout SplitMix
  ) -> GemmaLayer {
    let c = config.hiddenSize
    let zeros = { (width: Int) in Tensor(zeros: [width]) }
    return GemmaLayer(
      config: config, index: index, inputNorm: zeros(c),
      qkv: .random(
        outFeatures: config.queryWidth + 2 * config.keyValueWidth, inFeatures: c,
        bias: config.attentionBias, precision: precision, using: &generator),
      queryNorm: config.qkNorm ? zeros(config.headDim) : nil,
      keyNorm: config.qkNorm ? zeros(config.headDim) : nil,
      output: .random(
        outFeatures: c, inFeatures: config.queryWidth, bias: config.attentionBias,
        precision: precision, using: &generator),
      postAttentionNorm: zeros(c), preFeedforwardNorm: zeros(c),
      gateUp: .random(
        outFeatures: 2 * config.intermediateSize, inFeatures: c, bias: false,
        precision: precision, using: &generator),
      down: .random(
        outFeatures: c, inFeatures: config.intermediateSize, bias: false, precision: precision,
        using: &generator),
      postFeedforwardNorm: zeros(c))
  }

  // MARK: Forward

  public func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext, workspace: Workspace?
  ) {
    run(x, batch: batch, rope: context.tables(for: rope), saving: nil, workspace: workspace)
  }

  public func forwardSaving(_ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext)
    -> any SavedActivations
  {
    let saved = Activations(config: config, batch: batch)
    saved.input.pointer.update(from: x, count: batch.rows * config.hiddenSize)
    run(x, batch: batch, rope: context.tables(for: rope), saving: saved)
    return saved
  }

  /// Gemma's norm, `x / rms(x) · (1 + w)`.
  @inline(__always)
  func norm(
    _ x: UnsafePointer<Float>, _ weight: Tensor, into out: UnsafeMutablePointer<Float>, rows: Int,
    columns: Int
  ) {
    Kernels.rmsNorm(
      x, weight: weight.pointer, eps: config.rmsNormEps, out: out, rows: rows, columns: columns,
      weightOffset: 1)
  }

  /// The one implementation of the layer's math; with `saved`, intermediates go into its
  /// buffers instead of temporaries.
  func run(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, rope tables: RopeTables,
    saving saved: Activations?, workspace: Workspace? = nil
  ) {
    func scratch(_ slot: Int, _ shape: [Int]) -> Tensor {
      workspace?.tensor(slot, shape) ?? Tensor(uninitialized: shape)
    }
    let rows = batch.rows
    let c = config.hiddenSize
    let d = config.headDim
    let qWidth = config.queryWidth
    let kvWidth = config.keyValueWidth
    let qkvWidth = qWidth + 2 * kvWidth

    // Attention block.
    let normed = saved?.normed ?? scratch(0, [rows, c])
    norm(x, inputNorm, into: normed.pointer, rows: rows, columns: c)
    let qkvOut = saved?.qkv ?? scratch(1, [rows, qkvWidth])
    qkv.apply(Linear.Input(normed.pointer), into: qkvOut.pointer, rows: rows)
    if let queryNorm, let keyNorm {
      // Per-head norms before RoPE: gathered into contiguous [rows·heads, D] blocks.
      let q = saved?.rawQueries ?? scratch(5, [rows, qWidth])
      let k = saved?.rawKeys ?? scratch(6, [rows, kvWidth])
      let headNormed = scratch(7, [rows, max(qWidth, kvWidth)])
      Self.copyColumns(qkvOut.pointer, stride: qkvWidth, into: q.pointer, width: qWidth, rows: rows)
      Self.copyColumns(
        qkvOut.pointer + qWidth, stride: qkvWidth, into: k.pointer, width: kvWidth, rows: rows)
      norm(q.pointer, queryNorm, into: headNormed.pointer, rows: rows * config.numHeads, columns: d)
      Self.copyColumns(
        headNormed.pointer, width: qWidth, into: qkvOut.pointer, stride: qkvWidth, rows: rows)
      norm(
        k.pointer, keyNorm, into: headNormed.pointer, rows: rows * config.numKVHeads, columns: d)
      Self.copyColumns(
        headNormed.pointer, width: kvWidth, into: qkvOut.pointer + qWidth, stride: qkvWidth,
        rows: rows)
    }
    rope.apply(
      qkvOut.pointer, rowStride: qkvWidth, heads: config.numHeads + config.numKVHeads,
      positions: batch.positions, cos: tables.cos, sin: tables.sin)
    let attended = saved?.attended ?? scratch(2, [rows, qWidth])
    Attention.forward(
      qkv: qkvOut.pointer, out: attended.pointer, batch: batch, heads: config.numHeads,
      kvHeads: config.numKVHeads, headDim: d, scale: config.attentionScale,
      window: attentionWindow, softcap: config.attentionSoftcap)
    let projected = saved?.projected ?? scratch(3, [rows, c])
    output.apply(Linear.Input(attended.pointer), into: projected.pointer, rows: rows)
    let blockOut = scratch(4, [rows, c])
    norm(projected.pointer, postAttentionNorm, into: blockOut.pointer, rows: rows, columns: c)
    Kernels.add(x, blockOut.pointer, count: rows * c)
    saved?.residual.pointer.update(from: x, count: rows * c)

    // MLP block.
    let preNormed = saved?.preNormed ?? normed
    norm(x, preFeedforwardNorm, into: preNormed.pointer, rows: rows, columns: c)
    let fused = saved?.fused ?? scratch(8, [rows, 2 * config.intermediateSize])
    gateUp.apply(Linear.Input(preNormed.pointer), into: fused.pointer, rows: rows)
    let activated = saved?.activated ?? scratch(9, [rows, config.intermediateSize])
    Kernels.geluTanhGate(
      fused.pointer, out: activated.pointer, rows: rows, width: config.intermediateSize)
    let mlpOut = saved?.mlpOut ?? projected
    down.apply(Linear.Input(activated.pointer), into: mlpOut.pointer, rows: rows)
    norm(mlpOut.pointer, postFeedforwardNorm, into: blockOut.pointer, rows: rows, columns: c)
    Kernels.add(x, blockOut.pointer, count: rows * c)
  }

  /// Copies `width` floats a row from rows `stride` apart into rows `width` apart (a head group
  /// out of the stacked q/k/v), or back with the strides swapped.
  static func copyColumns(
    _ source: UnsafePointer<Float>, stride: Int, into target: UnsafeMutablePointer<Float>,
    width: Int, rows: Int
  ) {
    for r in 0..<rows { (target + r * width).update(from: source + r * stride, count: width) }
  }

  static func copyColumns(
    _ source: UnsafePointer<Float>, width: Int, into target: UnsafeMutablePointer<Float>,
    stride: Int, rows: Int
  ) {
    for r in 0..<rows { (target + r * stride).update(from: source + r * width, count: width) }
  }

  /// What the forward keeps for the backward.
  public final class Activations: SavedActivations, @unchecked Sendable {
    public let batch: Batch
    public let input: Tensor  // [rows, C] the layer's input x
    public let normed: Tensor  // [rows, C] input_layernorm(x)
    public let qkv: Tensor  // [rows, (H + 2·KV)·D] queries and keys normed and rotated
    public let rawQueries: Tensor?  // [rows, H·D] queries before q_norm (Gemma 3)
    public let rawKeys: Tensor?  // [rows, KV·D] keys before k_norm (Gemma 3)
    public let attended: Tensor  // [rows, H·D] attention output, o_proj's input
    public let projected: Tensor  // [rows, C] o_proj's output, post_attention_layernorm's input
    public let residual: Tensor  // [rows, C] h = x + post_attention_layernorm(...)
    public let preNormed: Tensor  // [rows, C] pre_feedforward_layernorm(h)
    public let fused: Tensor  // [rows, 2·I] gate, then up
    public let activated: Tensor  // [rows, I] gelu_tanh(gate)·up, down_proj's input
    public let mlpOut: Tensor  // [rows, C] down_proj's output

    init(config: GemmaConfig, batch: Batch) {
      let rows = batch.rows
      let c = config.hiddenSize
      self.batch = batch
      input = Tensor(uninitialized: [rows, c])
      normed = Tensor(uninitialized: [rows, c])
      qkv = Tensor(uninitialized: [rows, config.queryWidth + 2 * config.keyValueWidth])
      rawQueries = config.qkNorm ? Tensor(uninitialized: [rows, config.queryWidth]) : nil
      rawKeys = config.qkNorm ? Tensor(uninitialized: [rows, config.keyValueWidth]) : nil
      attended = Tensor(uninitialized: [rows, config.queryWidth])
      projected = Tensor(uninitialized: [rows, c])
      residual = Tensor(uninitialized: [rows, c])
      preNormed = Tensor(uninitialized: [rows, c])
      fused = Tensor(uninitialized: [rows, 2 * config.intermediateSize])
      activated = Tensor(uninitialized: [rows, config.intermediateSize])
      mlpOut = Tensor(uninitialized: [rows, c])
    }
  }

  // MARK: Backward

  public func backward(
    _ saved: any SavedActivations, gradient: UnsafeMutablePointer<Float>,
    into gradients: LayerGradients?, context: LayerContext
  ) {
    backward(
      saved as! Activations, gradient: gradient, into: gradients,
      rope: context.tables(for: rope))
  }

  /// Gemma's norm backward, adding into `dx` and `dWeight`.
  @inline(__always)
  func normBackward(
    _ dOut: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: Tensor,
    dx: UnsafeMutablePointer<Float>, dWeight: Tensor?, rows: Int, columns: Int
  ) {
    Kernels.rmsNormBackward(
      dOut, x: x, weight: weight.pointer, eps: config.rmsNormEps, dx: dx,
      dWeight: dWeight?.pointer, rows: rows, columns: columns, weightOffset: 1)
  }

  /// Backward of `forward`, in place on the residual-stream gradient `g` (`[rows, C]`):
  ///
  ///     dh = dout + pre_ff_norm'ᵀ · gate_up'ᵀ · gelu_gate'ᵀ · down'ᵀ · post_ff_norm'ᵀ · dout
  ///     dx = dh + input_norm'ᵀ · qkv'ᵀ · qk_norm'ᵀ · rope'ᵀ · attention'ᵀ · o_proj'ᵀ · post_attn_norm'ᵀ · dh
  public func backward(
    _ saved: Activations, gradient g: UnsafeMutablePointer<Float>,
    into layerGradients: LayerGradients?, rope tables: RopeTables
  ) {
    let gradients = layerGradients.map { GradientViews($0, config: config) }
    let batch = saved.batch
    let rows = batch.rows
    let c = config.hiddenSize
    let d = config.headDim
    let width = config.intermediateSize
    let qWidth = config.queryWidth
    let kvWidth = config.keyValueWidth
    let qkvWidth = qWidth + 2 * kvWidth

    // MLP block: g becomes dL/dh.
    let dBlock = Tensor(zeros: [rows, c])  // [rows, C] dL/d(down_proj output)
    normBackward(
      g, x: saved.mlpOut.pointer, weight: postFeedforwardNorm, dx: dBlock.pointer,
      dWeight: gradients?.postFeedforwardNorm, rows: rows, columns: c)
    let dActivated = Tensor(zeros: [rows, width])  // [rows, I]
    down.backward(
      x: saved.activated.pointer, dOut: dBlock.pointer, dx: dActivated.pointer,
      gradient: gradients?.down, rows: rows)
    let dFused = Tensor(zeros: [rows, 2 * width])  // [rows, 2·I]
    Kernels.geluTanhGateBackward(
      dActivated.pointer, fused: saved.fused.pointer, dFused: dFused.pointer, rows: rows,
      width: width)
    let dNormed = Tensor(zeros: [rows, c])  // [rows, C]
    gateUp.backward(
      x: saved.preNormed.pointer, dOut: dFused.pointer, dx: dNormed.pointer,
      gradient: gradients?.gateUp, rows: rows)
    normBackward(
      dNormed.pointer, x: saved.residual.pointer, weight: preFeedforwardNorm, dx: g,
      dWeight: gradients?.preFeedforwardNorm, rows: rows, columns: c)

    // Attention block: g becomes dL/dx.
    dBlock.data.update(repeating: 0)
    normBackward(
      g, x: saved.projected.pointer, weight: postAttentionNorm, dx: dBlock.pointer,
      dWeight: gradients?.postAttentionNorm, rows: rows, columns: c)
    let dAttended = Tensor(zeros: [rows, qWidth])  // [rows, H·D]
    output.backward(
      x: saved.attended.pointer, dOut: dBlock.pointer, dx: dAttended.pointer,
      gradient: gradients?.output, rows: rows)
    let dQKV = Tensor(zeros: [rows, qkvWidth])  // [rows, (H + 2·KV)·D]
    Attention.backward(
      qkv: saved.qkv.pointer, dOut: dAttended.pointer, dQKV: dQKV.pointer, batch: batch,
      heads: config.numHeads, kvHeads: config.numKVHeads, headDim: d,
      scale: config.attentionScale, window: attentionWindow, softcap: config.attentionSoftcap)
    rope.backward(
      dQKV.pointer, rowStride: qkvWidth, heads: config.numHeads + config.numKVHeads,
      positions: batch.positions, cos: tables.cos, sin: tables.sin)
    if let queryNorm, let keyNorm, let rawQueries = saved.rawQueries,
      let rawKeys = saved.rawKeys
    {
      // Through the per-head norms: gather, backpropagate, scatter back over the q/k columns.
      for (offset, heads, raw, weight, dWeight) in [
        (0, config.numHeads, rawQueries, queryNorm, gradients?.queryNorm),
        (qWidth, config.numKVHeads, rawKeys, keyNorm, gradients?.keyNorm),
      ] {
        let groupWidth = heads * d
        let dNormedHeads = Tensor(uninitialized: [rows, groupWidth])  // [rows·heads, D]
        Self.copyColumns(
          dQKV.pointer + offset, stride: qkvWidth, into: dNormedHeads.pointer, width: groupWidth,
          rows: rows)
        let dRaw = Tensor(zeros: [rows, groupWidth])  // [rows·heads, D]
        normBackward(
          dNormedHeads.pointer, x: raw.pointer, weight: weight, dx: dRaw.pointer,
          dWeight: dWeight, rows: rows * heads, columns: d)
        Self.copyColumns(
          dRaw.pointer, width: groupWidth, into: dQKV.pointer + offset, stride: qkvWidth,
          rows: rows)
      }
    }
    dNormed.data.update(repeating: 0)
    qkv.backward(
      x: saved.normed.pointer, dOut: dQKV.pointer, dx: dNormed.pointer, gradient: gradients?.qkv,
      rows: rows)
    normBackward(
      dNormed.pointer, x: saved.input.pointer, weight: inputNorm, dx: g,
      dWeight: gradients?.inputNorm, rows: rows, columns: c)
  }
}
