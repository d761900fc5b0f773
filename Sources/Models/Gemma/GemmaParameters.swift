import Tensors

/// The Gemma layer's one parameter table (as `LlamaParameters.swift` for Llama): the optimizer's
/// order, the gradients' layout, the checkpoint names and the unstacked views all come from
/// `table`, a field's tensor found by an exhaustive switch.
extension GemmaLayer {
  enum Field: CaseIterable {
    case inputNorm, qkvWeight, qkvBias, queryNorm, keyNorm, outputWeight, outputBias
    case postAttentionNorm, preFeedforwardNorm, gateUpWeight, downWeight, postFeedforwardNorm
  }

  struct TableEntry {
    let field: Field
    let parts: [(name: String, shape: [Int])]
  }

  /// The table for `config` (biases and q/k norms only where the config has them).
  static func table(_ config: GemmaConfig) -> [TableEntry] {
    let c = config.hiddenSize
    let i = config.intermediateSize
    let q = config.queryWidth
    let kv = config.keyValueWidth
    let attention = ["q_proj", "k_proj", "v_proj"].map { "self_attn." + $0 }
    var entries = [
      TableEntry(field: .inputNorm, parts: [("input_layernorm.weight", [c])]),
      TableEntry(
        field: .qkvWeight,
        parts: zip(attention, [q, kv, kv]).map { ($0 + ".weight", [$1, c]) }),
    ]
    if config.attentionBias {
      entries.append(
        TableEntry(
          field: .qkvBias, parts: zip(attention, [q, kv, kv]).map { ($0 + ".bias", [$1]) }))
    }
    if config.qkNorm {
      entries.append(
        TableEntry(field: .queryNorm, parts: [("self_attn.q_norm.weight", [config.headDim])]))
      entries.append(
        TableEntry(field: .keyNorm, parts: [("self_attn.k_norm.weight", [config.headDim])]))
    }
    entries.append(TableEntry(field: .outputWeight, parts: [("self_attn.o_proj.weight", [c, q])]))
    if config.attentionBias {
      entries.append(TableEntry(field: .outputBias, parts: [("self_attn.o_proj.bias", [c])]))
    }
    entries += [
      TableEntry(field: .postAttentionNorm, parts: [("post_attention_layernorm.weight", [c])]),
      TableEntry(field: .preFeedforwardNorm, parts: [("pre_feedforward_layernorm.weight", [c])]),
      TableEntry(
        field: .gateUpWeight,
        parts: ["mlp.gate_proj", "mlp.up_proj"].map { ($0 + ".weight", [i, c]) }),
      TableEntry(field: .downWeight, parts: [("mlp.down_proj.weight", [c, i])]),
      TableEntry(
        field: .postFeedforwardNorm, parts: [("post_feedforward_layernorm.weight", [c])]),
    ]
    return entries
  }

  /// The layer's stored tensor for `field` (Float32 weights).
  func tensor(_ field: Field) -> Tensor {
    switch field {
    case .inputNorm: return inputNorm
    case .qkvWeight: return qkv.f32Weight
    case .qkvBias: return qkv.bias!
    case .queryNorm: return queryNorm!
    case .keyNorm: return keyNorm!
    case .outputWeight: return output.f32Weight
    case .outputBias: return output.bias!
    case .postAttentionNorm: return postAttentionNorm
    case .preFeedforwardNorm: return preFeedforwardNorm
    case .gateUpWeight: return gateUp.f32Weight
    case .downWeight: return down.f32Weight
    case .postFeedforwardNorm: return postFeedforwardNorm
    }
  }

  public var parameterTable: [LayerParameter] {
    Self.table(config).map { LayerParameter(tensor($0.field), parts: $0.parts) }
  }

  /// The entries of `gradients` (laid out by the table) as the backward uses them.
  struct GradientViews {
    let inputNorm: Tensor
    let qkv: LinearGradient
    let queryNorm: Tensor?
    let keyNorm: Tensor?
    let output: LinearGradient
    let postAttentionNorm: Tensor
    let preFeedforwardNorm: Tensor
    let gateUp: LinearGradient
    let down: LinearGradient
    let postFeedforwardNorm: Tensor

    init(_ gradients: LayerGradients, config: GemmaConfig) {
      var found: [Field: Tensor] = [:]
      for (entry, gradient) in zip(GemmaLayer.table(config), gradients.tensors) {
        found[entry.field] = gradient
      }
      inputNorm = found[.inputNorm]!
      qkv = LinearGradient(weight: found[.qkvWeight]!, bias: found[.qkvBias])
      queryNorm = found[.queryNorm]
      keyNorm = found[.keyNorm]
      output = LinearGradient(weight: found[.outputWeight]!, bias: found[.outputBias])
      postAttentionNorm = found[.postAttentionNorm]!
      preFeedforwardNorm = found[.preFeedforwardNorm]!
      gateUp = LinearGradient(weight: found[.gateUpWeight]!, bias: nil)
      down = LinearGradient(weight: found[.downWeight]!, bias: nil)
      postFeedforwardNorm = found[.postFeedforwardNorm]!
    }
  }
}

/// A zero o_proj (and bias) makes the attention block's output 0, and Gemma's post-attention
/// norm of 0 is 0 (`0 · rsqrt(eps) · (1 + w)`), so the layer becomes
/// `x + post_ff_norm(MLP(pre_ff_norm(x)))`: the `ffn` replacement. The MLP block's tensors
/// (its two norms included) train.
///
/// The layer does not adopt `MLPOutputFolding`: its MLP output goes through
/// post_feedforward_layernorm before joining the residual stream, so a linear map on it does
/// not fold into down_proj.
extension GemmaLayer: AttentionSwitching {
  public func switchOffAttention() -> [Int] {
    output.f32Weight.data.update(repeating: 0)
    output.bias?.data.update(repeating: 0)
    let mlp: Set<Field> = [
      .preFeedforwardNorm, .gateUpWeight, .downWeight, .postFeedforwardNorm,
    ]
    let entries = Self.table(config)
    return entries.indices.filter { mlp.contains(entries[$0].field) }
  }
}
