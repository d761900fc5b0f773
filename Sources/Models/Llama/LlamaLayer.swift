import Checkpoint
import Foundation
import Tensors

/// One decoder layer's weights, q/k/v and gate/up stacked so each group is one product.
public final class LlamaLayer: DecoderLayer, @unchecked Sendable {
  public let config: LlamaConfig
  public var inputNorm: Tensor  // [C]
  public var qkv: Linear  // [(H + 2·KV)·D, C]
  public var output: Linear  // [C, H·D]
  public var postNorm: Tensor  // [C]
  public var gateUp: Linear  // [2·I, C]
  public var down: Linear  // [C, I]
  /// This layer's sliding window (`config.layerWindows` of its index), nil for full attention.
  public let window: Int?

  public init(
    config: LlamaConfig, inputNorm: Tensor, qkv: Linear, output: Linear, postNorm: Tensor,
    gateUp: Linear, down: Linear, window: Int? = nil
  ) {
    self.config = config
    self.window = window
    self.inputNorm = inputNorm
    self.qkv = qkv
    self.output = output
    self.postNorm = postNorm
    self.gateUp = gateUp
    self.down = down
  }

  public var hiddenSize: Int { config.hiddenSize }

  /// The layer's gradients are laid out by its parameter table.
  public typealias Gradients = LayerGradients

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
        precision: precision),
      window: config.layerWindows[layer])
  }

  public func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext, workspace: Workspace?
  ) {
    forward(x, batch: batch, rope: context.tables(for: config.rope), workspace: workspace)
  }

  public func forwardSaving(_ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext)
    -> any SavedActivations
  {
    forwardSaving(x, batch: batch, rope: context.tables(for: config.rope))
  }

  public func backward(
    _ saved: any SavedActivations, gradient: UnsafeMutablePointer<Float>,
    into gradients: LayerGradients?, context: LayerContext
  ) {
    backward(
      saved as! Activations, gradient: gradient, into: gradients,
      rope: context.tables(for: config.rope))
  }

  /// Runs the layer over `batch.rows` rows of the residual stream `x` (`[rows, C]`) in place,
  /// rotating with `rope`, the tables of `config.rope`.
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
    forwardSaving(x, batch: batch, rope: rope, stage: nil)
  }

  /// `forwardSaving` with `stage` between the q/k/v projection and RoPE.
  func forwardSaving(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, rope: RopeTables, stage: (any QKVStage)?
  ) -> Activations {
    let saved = Activations(config: config, batch: batch, stageWidth: stage?.savedWidth ?? 0)
    saved.input.pointer.update(from: x, count: batch.rows * config.hiddenSize)
    run(x, batch: batch, rope: rope, saving: saved, stage: stage)
    return saved
  }

  /// The one implementation of the layer's math; with `saved`, intermediates go into its
  /// buffers instead of temporaries. `stage`, when given, transforms the projected q/k/v rows
  /// in place before RoPE (a family built on this layer, such as Qwen3's per-head norms).
  func run(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, rope: RopeTables, saving saved: Activations?,
    workspace: Workspace? = nil, stage: (any QKVStage)? = nil
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
    stage?.forward(qkvOut.pointer, rows: rows, saving: saved?.stageInput)
    config.rope.apply(
      qkvOut.pointer, rowStride: qkvWidth, heads: config.numHeads + config.numKVHeads,
      positions: batch.positions, cos: rope.cos, sin: rope.sin)
    let attended = saved?.attended ?? scratch(2, [rows, config.queryWidth])
    Attention.forward(
      qkv: qkvOut.pointer, out: attended.pointer, batch: batch,
      heads: config.numHeads, kvHeads: config.numKVHeads, headDim: d, window: window)
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
    public let attended: Tensor  // [rows, H·D] attention output, o_proj's input
    public let residual: Tensor  // [rows, C] h = x + o_proj(...)
    public let postNormed: Tensor  // [rows, C] post_attention_layernorm(h)
    public let fused: Tensor  // [rows, 2·I] gate, then up
    public let activated: Tensor  // [rows, I] silu(gate)·up, down_proj's input
    /// [rows, stageWidth] what a `QKVStage` keeps of the projection (nil without a stage).
    public let stageInput: Tensor?

    init(config: LlamaConfig, batch: Batch, stageWidth: Int = 0) {
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
      stageInput = stageWidth > 0 ? Tensor(uninitialized: [rows, stageWidth]) : nil
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
    _ saved: Activations, gradient g: UnsafeMutablePointer<Float>,
    into layerGradients: LayerGradients?, rope: RopeTables
  ) {
    backward(saved, gradient: g, into: layerGradients, rope: rope, stage: nil)
  }

  /// `backward` through `stage` too (the forward's), whose parameter gradients go into the
  /// entries of `layerGradients` after this layer's own table.
  func backward(
    _ saved: Activations, gradient g: UnsafeMutablePointer<Float>,
    into layerGradients: LayerGradients?, rope: RopeTables, stage: (any QKVStage)?
  ) {
    let gradients = layerGradients.map { GradientViews($0, config: config) }
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
      headDim: config.headDim, window: window)
    config.rope.backward(
      dQKV.pointer, rowStride: qkvWidth, heads: config.numHeads + config.numKVHeads,
      positions: batch.positions, cos: rope.cos, sin: rope.sin)
    if let stage {
      let own = Self.table(config).count
      stage.backward(
        dQKV.pointer, rows: rows, saved: saved.stageInput!,
        gradients: layerGradients.map { Array($0.tensors[own...]) })
    }
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
    into gradients: LayerGradients?, batch: Batch, rope: RopeTables
  ) {
    let scratch = Tensor(uninitialized: [batch.rows, config.hiddenSize])  // [rows, C]
    scratch.pointer.update(from: x, count: scratch.count)
    let saved = forwardSaving(scratch.pointer, batch: batch, rope: rope)
    backward(saved, gradient: gradient, into: gradients, rope: rope)
  }
}

/// A step a family inserts between the Llama layer's q/k/v projection and RoPE, in place on the
/// projected rows `[rows, (H + 2·KV)·D]` (Qwen3's per-head q/k RMSNorm). The Llama layer runs
/// it in its forward, keeps `savedWidth` floats a row for it, and runs its backward before the
/// projection's.
protocol QKVStage {
  /// Floats a row the forward keeps for the backward.
  var savedWidth: Int { get }
  /// Transforms the projected rows in place; with `saving` (`[rows, savedWidth]`), keeps what
  /// the backward needs.
  func forward(_ qkv: UnsafeMutablePointer<Float>, rows: Int, saving: Tensor?)
  /// Backward in place on the projection's gradient: dL/d(stage output) in, dL/d(stage input)
  /// out; parameter gradients are added into `gradients` (the stage's own, in its order).
  func backward(
    _ dQKV: UnsafeMutablePointer<Float>, rows: Int, saved: Tensor, gradients: [Tensor]?)
}
