import Checkpoint
import Tensors

/// One Gemma decoder layer (see `Gemma`): sandwich norms around attention and around the
/// GELU-tanh-gated MLP, every norm stored as the checkpoint's `w` and applied as `1 + w`, q/k/v
/// and gate/up stacked so each group is one product.
///
/// The layer does not adopt `MLPOutputFolding`: its MLP output goes through
/// post_feedforward_layernorm before joining the residual stream, so a linear map on it does
/// not fold into down_proj. Switching attention off leaves
/// `x + post_ff_norm(MLP(pre_ff_norm(x)))` (a zero o_proj makes the post-attention norm's
/// input 0, and `0 · rsqrt(eps) · (1 + w)` is 0), whose four tensors train.
public final class GemmaLayer: BlockLayer, AttentionSwitching, @unchecked Sendable {
  public static func load(
    _ layer: Int, config: GemmaConfig, from folder: ModelFolder, precision: Precision
  ) throws -> GemmaLayer {
    try config.layerSpec(layer).load(
      Self.self, prefix: config.layerPrefix(layer), from: folder, precision: precision)
  }
}

extension GemmaConfig {
  /// Layer `index`, with the RoPE and window of its type.
  func layerSpec(_ index: Int) -> LayerSpec {
    let c = hiddenSize
    let i = intermediateSize
    let q = queryWidth
    let kv = keyValueWidth
    let norm = { (name: String, width: Int) in
      Norm.Spec(name, width: width, kind: .rms(offset: 1), eps: rmsNormEps)
    }
    let sandwich = { (before: String, after: String) in
      ResidualNorms.Spec(norm: norm(before, c), outputNorm: norm(after, c), post: false)
    }
    return LayerSpec(
      attention: AttentionBlock.Spec(
        norms: sandwich("input_layernorm", "post_attention_layernorm"),
        qkv: Projection(
          [("self_attn.q_proj", q), ("self_attn.k_proj", kv), ("self_attn.v_proj", kv)],
          inFeatures: c, bias: attentionBias),
        output: Projection([("self_attn.o_proj", c)], inFeatures: q, bias: attentionBias),
        heads: numHeads, kvHeads: numKVHeads, headDim: headDim,
        headNorms: qkNorm
          ? .init(
            query: norm("self_attn.q_norm", headDim), key: norm("self_attn.k_norm", headDim),
            summation: .rowKernel, last: false) : nil,
        rope: rope(index), scale: attentionScale,
        // Only once the kernel computes windows; until then the architecture refuses
        // sequences the window would cut, where a window changes nothing.
        window: Gemma.windowedAttention ? window(index) : nil, softcap: attentionSoftcap),
      feedForward: FeedForwardBlock.Spec(
        norms: sandwich("pre_feedforward_layernorm", "post_feedforward_layernorm"),
        feedForward: DenseMLP.Spec(
          input: Projection(
            [("mlp.gate_proj", i), ("mlp.up_proj", i)], inFeatures: c, bias: false),
          output: Projection([("mlp.down_proj", c)], inFeatures: i, bias: false),
          activation: .geluTanhGate)))
  }
}
