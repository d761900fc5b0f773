import Checkpoint
import Tensors

/// A Llama decoder layer (Llama, Mistral, Qwen2): pre-norm RMSNorm attention over q/k/v
/// stacked into one product, then a SiLU-gated MLP over gate/up stacked into one:
///
///     h   = x + o_proj(attention(rope(q), rope(k), v)),  [q k v] = qkv(rms_norm(x))
///     out = h + down_proj(silu(gate) · up),               [gate up] = gate_up(rms_norm(h))
public final class LlamaLayer: BlockLayer, AttentionSwitching, MLPOutputFolding,
  @unchecked Sendable
{
  public static func load(
    _ layer: Int, config: LlamaConfig, from folder: ModelFolder, precision: Precision
  ) throws -> LlamaLayer {
    try config.layerSpec(window: config.layerWindows[layer]).load(
      Self.self, prefix: LlamaConfig.layerPrefix(layer), from: folder, precision: precision)
  }
}

extension LlamaConfig {
  /// The layer with this config's shapes, biases and RoPE, attending through `window`, with
  /// per-head q/k norms when a family adds them (Qwen3).
  func layerSpec(window: Int?, headNorms: AttentionBlock.Spec.HeadNormsSpec? = nil) -> LayerSpec {
    .llama(
      hiddenSize: hiddenSize, intermediateSize: intermediateSize, heads: numHeads,
      kvHeads: numKVHeads, headDim: headDim, eps: rmsNormEps, rope: rope, window: window,
      biases: (qkv: qkvBias, output: outputBias, mlp: mlpBias), headNorms: headNorms)
  }
}

extension LayerSpec {
  /// Llama's layer under Llama's tensor names; `fused` names q/k/v and gate/up as Phi-3 stores
  /// them, one tensor each (`qkv_proj`, `gate_up_proj`).
  static func llama(
    hiddenSize c: Int, intermediateSize i: Int, heads: Int, kvHeads: Int, headDim: Int,
    eps: Float, rope: Rope, window: Int?,
    biases: (qkv: Bool, output: Bool, mlp: Bool) = (false, false, false), fused: Bool = false,
    headNorms: AttentionBlock.Spec.HeadNormsSpec? = nil
  ) -> LayerSpec {
    let q = heads * headDim
    let kv = kvHeads * headDim
    let preNorm = { (name: String) in
      ResidualNorms.Spec(
        norm: Norm.Spec(name, width: c, kind: .rms(offset: 0), eps: eps), outputNorm: nil,
        post: false)
    }
    let qkv: [(String, Int)] =
      fused
      ? [("self_attn.qkv_proj", q + 2 * kv)]
      : [("self_attn.q_proj", q), ("self_attn.k_proj", kv), ("self_attn.v_proj", kv)]
    let gateUp: [(String, Int)] =
      fused ? [("mlp.gate_up_proj", 2 * i)] : [("mlp.gate_proj", i), ("mlp.up_proj", i)]
    return LayerSpec(
      attention: AttentionBlock.Spec(
        norms: preNorm("input_layernorm"),
        qkv: Projection(qkv, inFeatures: c, bias: biases.qkv),
        output: Projection([("self_attn.o_proj", c)], inFeatures: q, bias: biases.output),
        heads: heads, kvHeads: kvHeads, headDim: headDim, headNorms: headNorms, rope: rope,
        window: window),
      feedForward: FeedForwardBlock.Spec(
        norms: preNorm("post_attention_layernorm"),
        feedForward: DenseMLP.Spec(
          input: Projection(gateUp, inFeatures: c, bias: biases.mlp),
          output: Projection([("mlp.down_proj", c)], inFeatures: i, bias: biases.mlp),
          activation: .siluGate)))
  }
}
