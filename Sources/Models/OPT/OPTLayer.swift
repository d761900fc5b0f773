import Checkpoint
import Tensors

/// One OPT decoder layer: LayerNorm, q/k/v stacked into one product with queries scaled after
/// their projection, a ReLU MLP. Post-norm layers (opt-350m) are this class; pre-norm ones are
/// `OPTPreNormLayer`, which adds the capabilities only they have.
public class OPTLayer: BlockLayer, @unchecked Sendable {
  public static func load(
    _ layer: Int, config: OPTConfig, from folder: ModelFolder, precision: Precision
  ) throws -> OPTLayer {
    try config.layerSpec.load(
      config.layerType, prefix: config.layerPrefix(layer), from: folder, precision: precision)
  }
}

/// A pre-norm OPT layer (every size but 350m): its MLP output `fc2(…)` is added straight into
/// the residual stream and zeroing out_proj leaves `x + MLP(x)`.
public final class OPTPreNormLayer: OPTLayer, AttentionSwitching, MLPOutputFolding,
  @unchecked Sendable
{}

extension OPTLayer: MissingCapabilityExplaining {
  public func whyLacking(_ capability: LayerCapability) -> String? {
    guard spec.attention.norms.post else { return nil }
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

extension OPTConfig {
  /// The layer class for this config: pre-norm layers can switch attention off and fold a map
  /// into fc2; post-norm ones cannot.
  var layerType: OPTLayer.Type { normBefore ? OPTPreNormLayer.self : OPTLayer.self }

  var layerSpec: LayerSpec {
    let c = hiddenSize
    let i = intermediateSize
    let norms = { (name: String) in
      ResidualNorms.Spec(
        norm: Norm.Spec(name, width: c, kind: .layer(affine: affineNorms), eps: layerNormEps),
        outputNorm: nil, post: !normBefore)
    }
    return LayerSpec(
      attention: AttentionBlock.Spec(
        norms: norms("self_attn_layer_norm"),
        qkv: Projection(
          [("self_attn.q_proj", c), ("self_attn.k_proj", c), ("self_attn.v_proj", c)],
          inFeatures: c, bias: bias),
        output: Projection([("self_attn.out_proj", c)], inFeatures: c, bias: bias),
        heads: numHeads, kvHeads: numHeads, headDim: headDim, rope: nil, scale: 1,
        queryScale: queryScale),
      feedForward: FeedForwardBlock.Spec(
        norms: norms("final_layer_norm"),
        feedForward: DenseMLP.Spec(
          input: Projection([("fc1", i)], inFeatures: c, bias: bias),
          output: Projection([("fc2", c)], inFeatures: i, bias: bias), activation: .relu)))
  }
}
