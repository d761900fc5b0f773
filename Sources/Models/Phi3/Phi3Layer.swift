import Checkpoint
import Tensors

/// A Phi-3 decoder layer: Llama's, over the checkpoint's fused `qkv_proj` and `gate_up_proj`
/// (already the stacked products the computation wants), without biases, rotating with its
/// partial rotary and LongRoPE, and every layer attending through the same window.
public final class Phi3Layer: BlockLayer, AttentionSwitching, MLPOutputFolding,
  @unchecked Sendable
{
  public static func load(
    _ layer: Int, config: Phi3Config, from folder: ModelFolder, precision: Precision
  ) throws -> Phi3Layer {
    try config.layerSpec.load(
      Self.self, prefix: config.layerPrefix(layer), from: folder, precision: precision)
  }
}

extension Phi3Config {
  var layerSpec: LayerSpec {
    .llama(
      hiddenSize: hiddenSize, intermediateSize: intermediateSize, heads: numHeads,
      kvHeads: numKVHeads, headDim: headDim, eps: rmsNormEps, rope: rope, window: window,
      fused: true)
  }
}
