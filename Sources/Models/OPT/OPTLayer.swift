import Checkpoint
import Foundation
import Tensors

/// One OPT decoder layer, q/k/v stacked into one product. Post-norm layers (opt-350m) are this
/// class; pre-norm ones are `OPTPreNormLayer`, which adds the capabilities only they have.
public class OPTLayer: DecoderLayer, @unchecked Sendable {
  public let config: OPTConfig
  public var attentionNorm: (weight: Tensor?, bias: Tensor?)  // [C] self_attn_layer_norm
  public var qkv: Linear  // [3·C, C]
  public var output: Linear  // [C, C] out_proj
  public var mlpNorm: (weight: Tensor?, bias: Tensor?)  // [C] final_layer_norm
  public var fc1: Linear  // [I, C]
  public var fc2: Linear  // [C, I]

  required init(
    config: OPTConfig, attentionNorm: (Tensor?, Tensor?), qkv: Linear, output: Linear,
    mlpNorm: (Tensor?, Tensor?), fc1: Linear, fc2: Linear
  ) {
    self.config = config
    self.attentionNorm = attentionNorm
    self.qkv = qkv
    self.output = output
    self.mlpNorm = mlpNorm
    self.fc1 = fc1
    self.fc2 = fc2
  }

  /// The layer class for `config`: pre-norm layers can switch attention off and fold a map
  /// into fc2; post-norm ones cannot.
  static func make(
    config: OPTConfig, attentionNorm: (Tensor?, Tensor?), qkv: Linear, output: Linear,
    mlpNorm: (Tensor?, Tensor?), fc1: Linear, fc2: Linear
  ) -> OPTLayer {
    let type: OPTLayer.Type = config.normBefore ? OPTPreNormLayer.self : OPTLayer.self
    return type.init(
      config: config, attentionNorm: attentionNorm, qkv: qkv, output: output, mlpNorm: mlpNorm,
      fc1: fc1, fc2: fc2)
  }

  public var hiddenSize: Int { config.hiddenSize }

  public static func load(
    _ layer: Int, config: OPTConfig, from folder: ModelFolder, precision: Precision
  ) throws -> OPTLayer {
    let p = config.layerPrefix(layer)
    let c = config.hiddenSize
    let i = config.intermediateSize
    func norm(_ name: String) throws -> (Tensor?, Tensor?) {
      guard config.affineNorms else { return (nil, nil) }
      return (
        try folder.float(p + name + ".weight", shape: [c]),
        try folder.float(p + name + ".bias", shape: [c])
      )
    }
    func linear(_ names: [String], out: [Int], in width: Int) throws -> Linear {
      try Linear.load(
        stacking: names.map { p + $0 + ".weight" }, outFeatures: out, inFeatures: width,
        biases: names.map { config.bias ? p + $0 + ".bias" : nil }, from: folder,
        precision: precision)
    }
    return make(
      config: config, attentionNorm: try norm("self_attn_layer_norm"),
      qkv: try linear(
        ["q_proj", "k_proj", "v_proj"].map { "self_attn." + $0 }, out: [c, c, c], in: c),
      output: try linear(["self_attn.out_proj"], out: [c], in: c),
      mlpNorm: try norm("final_layer_norm"),
      fc1: try linear(["fc1"], out: [i], in: c),
      fc2: try linear(["fc2"], out: [c], in: i))
  }

  public static func random(
    config: OPTConfig, precision: Precision, using generator: inout SplitMix
  )
    -> OPTLayer
  {
    let c = config.hiddenSize
    let i = config.intermediateSize
    let norm = {
      config.affineNorms
        ? (Tensor(shape: [c], values: .init(repeating: 1, count: c)), Tensor(zeros: [c]))
        : (nil, nil)
    }
    func linear(_ out: Int, _ width: Int) -> Linear {
      .random(
        outFeatures: out, inFeatures: width, bias: config.bias, precision: precision,
        using: &generator)
    }
    return make(
      config: config, attentionNorm: norm(), qkv: linear(3 * c, c), output: linear(c, c),
      mlpNorm: norm(), fc1: linear(i, c), fc2: linear(c, i))
  }

  // MARK: Forward

  public func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext, workspace: Workspace?
  ) {
    run(x, batch: batch, saving: nil, workspace: workspace)
  }

  public func forwardSaving(_ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext)
    -> any SavedActivations
  {
    forwardSaving(x, batch: batch)
  }

  func forwardSaving(_ x: UnsafeMutablePointer<Float>, batch: Batch) -> Activations {
    let saved = Activations(config: config, batch: batch)
    saved.input.pointer.update(from: x, count: batch.rows * config.hiddenSize)
    run(x, batch: batch, saving: saved)
    return saved
  }

  func layerNorm(
    _ norm: (weight: Tensor?, bias: Tensor?), _ x: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>, rows: Int
  ) {
    Kernels.layerNorm(
      x, weight: norm.weight?.pointer, bias: norm.bias?.pointer, eps: config.layerNormEps,
      out: out, rows: rows, columns: config.hiddenSize)
  }

  /// The one implementation of the layer's math; with `saved`, intermediates go into its
  /// buffers instead of temporaries.
  func run(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, saving saved: Activations?,
    workspace: Workspace? = nil
  ) {
    func scratch(_ slot: Int, _ shape: [Int]) -> Tensor {
      workspace?.tensor(slot, shape) ?? Tensor(uninitialized: shape)
    }
    let rows = batch.rows
    let c = config.hiddenSize
    let before = config.normBefore

    // Attention block.
    // Pre-norm attends to LN₁(x), post-norm to x itself.
    let normed = before ? saved?.normed ?? scratch(0, [rows, c]) : nil
    if let normed { layerNorm(attentionNorm, x, out: normed.pointer, rows: rows) }
    let qkvOut = saved?.qkv ?? scratch(1, [rows, 3 * c])
    qkv.apply(
      Linear.Input(normed.map { UnsafePointer($0.pointer) } ?? UnsafePointer(x)),
      into: qkvOut.pointer, rows: rows)
    scaleQueries(qkvOut.pointer, rows: rows)
    let attended = saved?.attended ?? scratch(2, [rows, c])
    Attention.forward(
      qkv: qkvOut.pointer, out: attended.pointer, batch: batch, heads: config.numHeads,
      kvHeads: config.numHeads, headDim: config.headDim, scale: 1)
    output.apply(Linear.Input(attended.pointer), into: x, rows: rows, accumulate: true)
    saved?.residual.pointer.update(from: x, count: rows * c)
    if !before { layerNorm(attentionNorm, x, out: x, rows: rows) }

    // MLP block: x is h, the residual the MLP adds to.
    let mlpInput = saved?.mlpInput ?? scratch(0, [rows, c])
    if before {
      layerNorm(mlpNorm, x, out: mlpInput.pointer, rows: rows)
    } else {
      mlpInput.pointer.update(from: x, count: rows * c)
    }
    let activated = saved?.activated ?? scratch(3, [rows, config.intermediateSize])
    fc1.apply(Linear.Input(mlpInput.pointer), into: activated.pointer, rows: rows)
    Kernels.relu(activated.pointer, count: rows * config.intermediateSize)
    fc2.apply(Linear.Input(activated.pointer), into: x, rows: rows, accumulate: true)
    if !before {
      saved?.summed?.pointer.update(from: x, count: rows * c)
      layerNorm(mlpNorm, x, out: x, rows: rows)
    }
  }

  /// `q·head_dim^-½` after q_proj and its bias, where transformers scales (attention then runs
  /// with scale 1), so the rounding is the same.
  func scaleQueries(_ qkv: UnsafeMutablePointer<Float>, rows: Int) {
    let c = config.hiddenSize
    let scale = config.queryScale
    Parallel.chunks(rows, grain: max(1, 16384 / c)) { range in
      for r in range {
        let q = qkv + r * 3 * c
        for j in 0..<c { q[j] *= scale }
      }
    }
  }

  /// What the forward keeps for the backward.
  public final class Activations: SavedActivations, @unchecked Sendable {
    public let batch: Batch
    public let input: Tensor  // [rows, C] the layer's input x
    public let normed: Tensor?  // [rows, C] self_attn_layer_norm(x) (pre-norm)
    public let qkv: Tensor  // [rows, 3·C] queries (scaled), keys, values
    public let attended: Tensor  // [rows, C] out_proj's input
    public let residual: Tensor  // [rows, C] x + out_proj(...), before any post-norm
    public let mlpInput: Tensor  // [rows, C] fc1's input
    public let activated: Tensor  // [rows, I] relu(fc1(...)), fc2's input
    public let summed: Tensor?  // [rows, C] h + fc2(...) before final_layer_norm (post-norm)

    init(config: OPTConfig, batch: Batch) {
      let rows = batch.rows
      let c = config.hiddenSize
      self.batch = batch
      input = Tensor(uninitialized: [rows, c])
      normed = config.normBefore ? Tensor(uninitialized: [rows, c]) : nil
      qkv = Tensor(uninitialized: [rows, 3 * c])
      attended = Tensor(uninitialized: [rows, c])
      residual = Tensor(uninitialized: [rows, c])
      mlpInput = Tensor(uninitialized: [rows, c])
      activated = Tensor(uninitialized: [rows, config.intermediateSize])
      summed = config.normBefore ? nil : Tensor(uninitialized: [rows, c])
    }
  }

  // MARK: Backward

  public func backward(
    _ saved: any SavedActivations, gradient: UnsafeMutablePointer<Float>,
    into gradients: LayerGradients?, context: LayerContext
  ) {
    backward(saved as! Activations, gradient: gradient, into: gradients)
  }

  func layerNormBackward(
    _ norm: (weight: Tensor?, bias: Tensor?), _ dOut: UnsafePointer<Float>,
    x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, gradient: (Tensor?, Tensor?),
    rows: Int
  ) {
    Kernels.layerNormBackward(
      dOut, x: x, weight: norm.weight?.pointer, eps: config.layerNormEps, dx: dx,
      dWeight: gradient.0?.pointer, dBias: gradient.1?.pointer, rows: rows,
      columns: config.hiddenSize)
  }

  func backward(
    _ saved: Activations, gradient g: UnsafeMutablePointer<Float>, into gradients: LayerGradients?
  ) {
    let batch = saved.batch
    let rows = batch.rows
    let c = config.hiddenSize
    let before = config.normBefore
    let views = gradients.map { GradientViews($0, config: config) }

    // MLP block: g becomes dL/dh.
    if !before {
      let dSummed = Tensor(zeros: [rows, c])  // [rows, C]
      layerNormBackward(
        mlpNorm, g, x: saved.summed!.pointer, dx: dSummed.pointer,
        gradient: (views?.mlpNormWeight, views?.mlpNormBias), rows: rows)
      g.update(from: dSummed.pointer, count: rows * c)
    }
    let dActivated = Tensor(zeros: [rows, config.intermediateSize])  // [rows, I]
    fc2.backward(
      x: saved.activated.pointer, dOut: g, dx: dActivated.pointer, gradient: views?.fc2,
      rows: rows)
    let dHidden = Tensor(zeros: [rows, config.intermediateSize])  // [rows, I]
    Kernels.reluBackward(
      dActivated.pointer, output: saved.activated.pointer, dx: dHidden.pointer,
      count: dHidden.count)
    let dMLPInput = Tensor(zeros: [rows, c])  // [rows, C]
    fc1.backward(
      x: saved.mlpInput.pointer, dOut: dHidden.pointer, dx: dMLPInput.pointer,
      gradient: views?.fc1, rows: rows)
    if before {
      layerNormBackward(
        mlpNorm, dMLPInput.pointer, x: saved.residual.pointer, dx: g,
        gradient: (views?.mlpNormWeight, views?.mlpNormBias), rows: rows)
    } else {
      Kernels.add(g, dMLPInput.pointer, count: rows * c)
      // Through self_attn_layer_norm: g becomes dL/d(residual).
      let dResidual = Tensor(zeros: [rows, c])  // [rows, C]
      layerNormBackward(
        attentionNorm, g, x: saved.residual.pointer, dx: dResidual.pointer,
        gradient: (views?.attentionNormWeight, views?.attentionNormBias), rows: rows)
      g.update(from: dResidual.pointer, count: rows * c)
    }

    // Attention block: g becomes dL/dx.
    let dAttended = Tensor(zeros: [rows, c])  // [rows, C]
    output.backward(
      x: saved.attended.pointer, dOut: g, dx: dAttended.pointer, gradient: views?.output,
      rows: rows)
    let dQKV = Tensor(zeros: [rows, 3 * c])  // [rows, 3·C]
    Attention.backward(
      qkv: saved.qkv.pointer, dOut: dAttended.pointer, dQKV: dQKV.pointer, batch: batch,
      heads: config.numHeads, kvHeads: config.numHeads, headDim: config.headDim, scale: 1)
    scaleQueries(dQKV.pointer, rows: rows)
    if before {
      let dNormed = Tensor(zeros: [rows, c])  // [rows, C]
      qkv.backward(
        x: saved.normed!.pointer, dOut: dQKV.pointer, dx: dNormed.pointer, gradient: views?.qkv,
        rows: rows)
      layerNormBackward(
        attentionNorm, dNormed.pointer, x: saved.input.pointer, dx: g,
        gradient: (views?.attentionNormWeight, views?.attentionNormBias), rows: rows)
    } else {
      qkv.backward(
        x: saved.input.pointer, dOut: dQKV.pointer, dx: g, gradient: views?.qkv, rows: rows)
    }
  }
}

/// A pre-norm OPT layer (every size but 350m): its MLP output `fc2(…)` is added straight into
/// the residual stream and zeroing out_proj leaves `x + MLP(x)`.
public final class OPTPreNormLayer: OPTLayer, AttentionSwitching, MLPOutputFolding,
  @unchecked Sendable
{
  public func switchOffAttention() -> [Int] {
    output.f32Weight.data.update(repeating: 0)
    output.bias?.data.update(repeating: 0)
    let mlp: Set<Field> = [
      .mlpNormWeight, .mlpNormBias, .fc1Weight, .fc1Bias, .fc2Weight, .fc2Bias,
    ]
    let table = Self.table(config)
    return table.indices.filter { mlp.contains(table[$0].field) }
  }

  public var mlpOutputProjection: (weight: String, bias: String?) {
    ("fc2.weight", config.bias ? "fc2.bias" : nil)
  }

  public func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext,
    beforeMLP: UnsafeMutablePointer<Float>
  ) {
    let saved = forwardSaving(x, batch: batch)
    beforeMLP.update(from: saved.residual.pointer, count: saved.residual.count)
  }
}

extension OPTLayer: MissingCapabilityExplaining {
  public func whyLacking(_ capability: LayerCapability) -> String? {
    guard !config.normBefore else { return nil }
    switch capability {
    case .attentionSwitching:
      return
        "post-norm OPT (do_layer_norm_before false, as opt-350m) normalises the residual stream after attention, so no setting of the attention weights leaves x + MLP(x)"
    case .mlpOutputFolding:
      return
        "post-norm OPT (do_layer_norm_before false, as opt-350m) normalises after adding the MLP output, so a linear map on fc2's output is not a map on what the layer adds"
    }
  }
}
