import Checkpoint
import Tensors

/// A Qwen3 decoder layer: Llama's, with an RMSNorm over each head of q and of k between the
/// projection and RoPE:
///
///     q_h = q_norm(q_proj(n)_h),  k_h = k_norm(k_proj(n)_h)   for each head h, then RoPE
///
/// Its table is Llama's with the two norms appended, so Llama's entries keep their indices.
public final class Qwen3Layer: BlockLayer, AttentionSwitching, MLPOutputFolding,
  @unchecked Sendable
{
  public static func load(
    _ layer: Int, config: Qwen3Config, from folder: ModelFolder, precision: Precision
  ) throws -> Qwen3Layer {
    try config.layerSpec(window: config.base.layerWindows[layer]).load(
      Self.self, prefix: config.layerPrefix(layer), from: folder, precision: precision)
  }
}

extension Qwen3Config {
  func layerSpec(window: Int?) -> LayerSpec {
    let norm = { (name: String) in
      Norm.Spec(name, width: headDim, kind: .rms(offset: 0), eps: base.rmsNormEps)
    }
    return base.layerSpec(
      window: window,
      headNorms: .init(
        query: norm("self_attn.q_norm"), key: norm("self_attn.k_norm"),
        summation: .perHeadLoop, last: true))
  }
}
