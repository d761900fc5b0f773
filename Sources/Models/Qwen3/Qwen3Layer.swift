import Checkpoint
import Foundation
import Tensors

/// A Qwen3 decoder layer: a Llama layer (attention, MLP, their backward, its window) with the
/// per-head q/k RMSNorm run as the stage between its q/k/v projection and RoPE:
///
///     q_h = q_norm(q_proj(n)_h),  k_h = k_norm(k_proj(n)_h)   for each head h, then RoPE
public final class Qwen3Layer: DecoderLayer, @unchecked Sendable {
  public let base: LlamaLayer
  public var qNorm: Tensor  // [D]
  public var kNorm: Tensor  // [D]

  public init(base: LlamaLayer, qNorm: Tensor, kNorm: Tensor) {
    self.base = base
    self.qNorm = qNorm
    self.kNorm = kNorm
  }

  public var config: LlamaConfig { base.config }
  public var hiddenSize: Int { base.hiddenSize }

  static let normNames = ["self_attn.q_norm.weight", "self_attn.k_norm.weight"]

  public static func load(
    _ layer: Int, config: Qwen3Config, from folder: ModelFolder, precision: Precision
  ) throws -> Qwen3Layer {
    let p = config.layerPrefix(layer)
    let d = config.headDim
    return Qwen3Layer(
      base: try LlamaLayer.load(layer, config: config.base, from: folder, precision: precision),
      qNorm: try folder.float(p + normNames[0], shape: [d]),
      kNorm: try folder.float(p + normNames[1], shape: [d]))
  }

  /// The Llama table, then the two norms: appended, so the Llama layer's gradient views (which
  /// read the leading entries) and its MLP indices stay valid.
  static func tableParts(_ config: LlamaConfig) -> [[(name: String, shape: [Int])]] {
    LlamaLayer.table(config).map(\.parts) + normNames.map { [($0, [config.headDim])] }
  }

  public var parameterTable: [LayerParameter] {
    base.parameterTable + [
      LayerParameter(qNorm, parts: [(Self.normNames[0], [config.headDim])]),
      LayerParameter(kNorm, parts: [(Self.normNames[1], [config.headDim])]),
    ]
  }

  var stage: HeadNorms {
    HeadNorms(
      q: qNorm, k: kNorm, heads: config.numHeads, kvHeads: config.numKVHeads,
      headDim: config.headDim, eps: config.rmsNormEps)
  }

  public func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext, workspace: Workspace?
  ) {
    base.run(
      x, batch: batch, rope: context.tables(for: config.rope), saving: nil,
      workspace: workspace, stage: stage)
  }

  public func forwardSaving(_ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext)
    -> any SavedActivations
  {
    base.forwardSaving(x, batch: batch, rope: context.tables(for: config.rope), stage: stage)
  }

  public func backward(
    _ saved: any SavedActivations, gradient: UnsafeMutablePointer<Float>,
    into gradients: LayerGradients?, context: LayerContext
  ) {
    base.backward(
      saved as! LlamaLayer.Activations, gradient: gradient, into: gradients,
      rope: context.tables(for: config.rope), stage: stage)
  }
}

extension Qwen3Layer: AttentionSwitching {
  /// The Llama layer's: a zero o_proj leaves `x + MLP(x)`, the q/k norms no longer matter, and
  /// the MLP's indices are the same (the norms come after them in the table).
  public func switchOffAttention() -> [Int] { base.switchOffAttention() }
}

extension Qwen3Layer: MLPOutputFolding {
  public var mlpOutputProjection: (weight: String, bias: String?) { base.mlpOutputProjection }

  public func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext,
    beforeMLP: UnsafeMutablePointer<Float>
  ) {
    let saved = base.forwardSaving(
      x, batch: batch, rope: context.tables(for: config.rope), stage: stage)
    beforeMLP.update(from: saved.residual.pointer, count: saved.residual.count)
  }
}
