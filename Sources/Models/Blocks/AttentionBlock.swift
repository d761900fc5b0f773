import Checkpoint
import Foundation
import Tensors

/// The attention half of a decoder layer, `x ← x + o_proj(attention(rope(q), rope(k), v))` with
/// `[q k v] = qkv(norm(x))`, its norms placed as `ResidualNorms` places them. One class for
/// every family: what differs (split or fused q/k/v, biases, per-head q/k norms, the RoPE,
/// scale, window, soft-capping, OPT's scaled queries) is its `Spec`.
public final class AttentionBlock: @unchecked Sendable {
  /// The block as a family's config describes it.
  public struct Spec: Sendable {
    var norms: ResidualNorms.Spec
    /// q, k and v stacked into one product (`[(H + 2·KV)·D, C]`).
    var qkv: Projection
    var output: Projection
    var heads: Int
    var kvHeads: Int
    var headDim: Int
    var headNorms: HeadNormsSpec?
    /// nil where positions come from elsewhere (OPT's learned embeddings).
    var rope: Rope?
    /// The scores' scale; nil for `1/√D`.
    var scale: Float?
    /// Multiplies q after its projection and bias, where transformers' OPT scales it.
    var queryScale: Float?
    var window: Int?
    var softcap: Float?

    /// Per-head q/k norms, and whether their entries go last in the layer's table (Qwen3's
    /// table is Llama's with the norms appended) or after q/k/v (Gemma 3's).
    struct HeadNormsSpec: Sendable {
      let query: Norm.Spec
      let key: Norm.Spec
      let summation: HeadNorms.Summation
      let last: Bool
    }

    var queryWidth: Int { heads * headDim }
    var qkvWidth: Int { (heads + 2 * kvHeads) * headDim }

    /// The block's share of the layer's table, in order: norm, q/k/v, (q/k norms), o_proj,
    /// output norm, (q/k norms when `last`).
    var tableParts: [[(name: String, shape: [Int])]] {
      let headNormParts = headNorms.map { $0.query.tableParts + $0.key.tableParts } ?? []
      let last = headNorms?.last ?? false
      return norms.leadingParts + qkv.tableParts + (last ? [] : headNormParts)
        + output.tableParts + norms.trailingParts + (last ? headNormParts : [])
    }

    /// How many of `tableParts`' entries the layer moves to the end of its table.
    var trailingEntries: Int { headNorms?.last == true ? 2 : 0 }

    func load(prefix: String, from folder: ModelFolder, precision: Precision) throws
      -> AttentionBlock
    {
      let load = { (spec: Norm.Spec) in try spec.load(prefix: prefix, from: folder) }
      let norms = try ResidualNorms(norms, inputGradientInPlace: true, make: load)
      let qkv = try qkv.load(prefix: prefix, from: folder, precision: precision)
      let headNorms = try self.headNorms.map { (try load($0.query), try load($0.key)) }
      return AttentionBlock(
        self, norms: norms, qkv: qkv, headNorms: headNorms,
        output: try output.load(prefix: prefix, from: folder, precision: precision))
    }

    func random(precision: Precision, using generator: inout SplitMix) -> AttentionBlock {
      AttentionBlock(
        self, norms: ResidualNorms(norms, inputGradientInPlace: true) { $0.identity() },
        qkv: qkv.random(precision: precision, using: &generator),
        headNorms: headNorms.map { ($0.query.identity(), $0.key.identity()) },
        output: output.random(precision: precision, using: &generator))
    }
  }

  public let spec: Spec
  let norms: ResidualNorms
  public var qkv: Linear  // [(H + 2·KV)·D, C]
  let headNorms: HeadNorms?
  public var output: Linear  // [C, H·D]

  init(
    _ spec: Spec, norms: ResidualNorms, qkv: Linear, headNorms: (query: Norm, key: Norm)?,
    output: Linear
  ) {
    self.spec = spec
    self.norms = norms
    self.qkv = qkv
    if let headNorms, let headNormsSpec = spec.headNorms {
      self.headNorms = HeadNorms(
        query: headNorms.query, key: headNorms.key, heads: spec.heads, kvHeads: spec.kvHeads,
        summation: headNormsSpec.summation)
    } else {
      self.headNorms = nil
    }
    self.output = output
  }

  /// The stored tensors in `spec.tableParts` order.
  var parameters: [Tensor] {
    let last = spec.headNorms?.last ?? false
    let headNormTensors = headNorms?.parameters ?? []
    return norms.norm.parameters + qkv.parameters + (last ? [] : headNormTensors)
      + output.parameters + (norms.outputNorm?.parameters ?? []) + (last ? headNormTensors : [])
  }

  /// What the forward keeps for the backward.
  final class Activations: @unchecked Sendable {
    let residual: ResidualNorms.Activations
    let qkv: Tensor  // [rows, (H + 2·KV)·D] queries and keys normed and rotated
    let attended: Tensor  // [rows, H·D] attention output, o_proj's input
    let headNormInputs: [Tensor]?  // q and k before their per-head norms

    init(_ block: AttentionBlock, rows: Int) {
      residual = ResidualNorms.Activations(block.norms, rows: rows)
      qkv = Tensor(uninitialized: [rows, block.spec.qkvWidth])
      attended = Tensor(uninitialized: [rows, block.spec.queryWidth])
      headNormInputs = block.headNorms?.saving(rows: rows)
    }
  }

  /// Runs the block in place on the residual stream `x` (`[rows, C]`). Uses scratch slots 0
  /// to 7.
  func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext,
    saving saved: Activations?, scratch: Scratch
  ) {
    let rows = batch.rows
    let width = spec.qkvWidth
    norms.forward(x, rows: rows, saving: saved?.residual, scratch: scratch) {
      input, out, accumulate in
      let projected = saved?.qkv ?? scratch(1, [rows, width])
      qkv.apply(Linear.Input(input), into: projected.pointer, rows: rows)
      headNorms?.forward(
        projected.pointer, rows: rows, saving: saved?.headNormInputs, scratch: scratch)
      if let queryScale = spec.queryScale {
        Self.scaleQueries(
          projected.pointer, by: queryScale, width: spec.queryWidth, stride: width, rows: rows)
      }
      spec.rope?.apply(
        projected.pointer, rowStride: width, heads: spec.heads + spec.kvHeads, batch: batch,
        context: context)
      let attended = saved?.attended ?? scratch(2, [rows, spec.queryWidth])
      Attention.forward(
        qkv: projected.pointer, out: attended.pointer, batch: batch, heads: spec.heads,
        kvHeads: spec.kvHeads, headDim: spec.headDim, scale: spec.scale, window: spec.window,
        softcap: spec.softcap)
      output.apply(Linear.Input(attended.pointer), into: out, rows: rows, accumulate: accumulate)
    }
  }

  /// Backward of `forward`, in place on the stream's gradient `g`; parameter gradients added
  /// into `gradients` (this block's entries, in its table order; nil when frozen).
  func backward(
    _ g: UnsafeMutablePointer<Float>, saved: Activations, batch: Batch, context: LayerContext,
    gradients: ArraySlice<Tensor>?
  ) {
    let rows = batch.rows
    let width = spec.qkvWidth
    var cursor = gradients.map(GradientCursor.init)
    let last = spec.headNorms?.last ?? false
    let normGradient = norms.leadingGradient(&cursor)
    let qkvGradient = cursor?.next(for: qkv)
    var headNormGradients = last ? nil : headNorms.flatMap { cursor?.next(for: $0) }
    let outputGradient = cursor?.next(for: output)
    let outputNormGradient = norms.trailingGradient(&cursor)
    if last { headNormGradients = headNorms.flatMap { cursor?.next(for: $0) } }

    norms.backward(
      g, saved: saved.residual, rows: rows, gradients: (normGradient, outputNormGradient)
    ) { dOut, dInput in
      let dAttended = Tensor(zeros: [rows, spec.queryWidth])  // [rows, H·D]
      output.backward(
        x: saved.attended.pointer, dOut: dOut, dx: dAttended.pointer, gradient: outputGradient,
        rows: rows)
      let dQKV = Tensor(zeros: [rows, width])  // [rows, (H + 2·KV)·D]
      Attention.backward(
        qkv: saved.qkv.pointer, dOut: dAttended.pointer, dQKV: dQKV.pointer, batch: batch,
        heads: spec.heads, kvHeads: spec.kvHeads, headDim: spec.headDim, scale: spec.scale,
        window: spec.window, softcap: spec.softcap)
      // The rotation is orthogonal: its backward is the inverse rotation.
      spec.rope?.apply(
        dQKV.pointer, rowStride: width, heads: spec.heads + spec.kvHeads, batch: batch,
        context: context, inverse: true)
      if let queryScale = spec.queryScale {
        Self.scaleQueries(
          dQKV.pointer, by: queryScale, width: spec.queryWidth, stride: width, rows: rows)
      }
      headNorms?.backward(
        dQKV.pointer, rows: rows, saved: saved.headNormInputs!, gradients: headNormGradients)
      qkv.backward(
        x: saved.residual.sublayerInput.pointer, dOut: dQKV.pointer, dx: dInput,
        gradient: qkvGradient, rows: rows)
    }
  }

  /// `q ← q·scale` over the first `width` floats of each row (OPT's `q·head_dim^-½` after
  /// q_proj and its bias, where transformers scales, so the rounding is the same); its own
  /// backward.
  static func scaleQueries(
    _ qkv: UnsafeMutablePointer<Float>, by scale: Float, width: Int, stride: Int, rows: Int
  ) {
    Parallel.chunks(rows, grain: max(1, 16384 / width)) { range in
      for r in range {
        let q = qkv + r * stride
        for j in 0..<width { q[j] *= scale }
      }
    }
  }

  /// Switches the block's contribution off: a zero o_proj (and bias) adds nothing.
  func switchOff() {
    output.f32Weight.data.update(repeating: 0)
    output.bias?.data.update(repeating: 0)
  }
}

extension GradientCursor {
  /// The gradients of per-head norms, q's then k's.
  mutating func next(for norms: HeadNorms) -> (query: Norm.Gradient, key: Norm.Gradient) {
    (next(for: norms.query), next(for: norms.key))
  }
}
