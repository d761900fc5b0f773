import Tensors

/// The Llama layer's one parameter table: which tensors it stores (q/k/v and gate/up stacked),
/// in which order, holding which Hugging Face tensors. The optimizer's order, the gradients'
/// layout, the checkpoint names (`LlamaConfig.layerTensors`) and the unstacked views all come
/// from `table`; a field's tensor is found by an exhaustive switch, so nothing can drift.
extension LlamaLayer {
  enum Field: CaseIterable {
    case inputNorm, qkvWeight, qkvBias, outputWeight, outputBias, postNorm
    case gateUpWeight, gateUpBias, downWeight, downBias
  }

  struct TableEntry {
    let field: Field
    let parts: [(name: String, shape: [Int])]
  }

  /// The table for `config` (biases only where the config has them).
  static func table(_ config: LlamaConfig) -> [TableEntry] {
    let c = config.hiddenSize
    let i = config.intermediateSize
    let q = config.queryWidth
    let kv = config.keyValueWidth
    let attention = ["q_proj", "k_proj", "v_proj"].map { "self_attn." + $0 }
    let mlp = ["mlp.gate_proj", "mlp.up_proj"]
    var entries = [
      TableEntry(field: .inputNorm, parts: [("input_layernorm.weight", [c])]),
      TableEntry(
        field: .qkvWeight,
        parts: zip(attention, [q, kv, kv]).map { ($0 + ".weight", [$1, c]) }),
    ]
    if config.qkvBias {
      entries.append(
        TableEntry(
          field: .qkvBias, parts: zip(attention, [q, kv, kv]).map { ($0 + ".bias", [$1]) }))
    }
    entries.append(TableEntry(field: .outputWeight, parts: [("self_attn.o_proj.weight", [c, q])]))
    if config.outputBias {
      entries.append(TableEntry(field: .outputBias, parts: [("self_attn.o_proj.bias", [c])]))
    }
    entries.append(
      TableEntry(field: .postNorm, parts: [("post_attention_layernorm.weight", [c])]))
    entries.append(
      TableEntry(field: .gateUpWeight, parts: mlp.map { ($0 + ".weight", [i, c]) }))
    if config.mlpBias {
      entries.append(TableEntry(field: .gateUpBias, parts: mlp.map { ($0 + ".bias", [i]) }))
    }
    entries.append(TableEntry(field: .downWeight, parts: [("mlp.down_proj.weight", [c, i])]))
    if config.mlpBias {
      entries.append(TableEntry(field: .downBias, parts: [("mlp.down_proj.bias", [c])]))
    }
    return entries
  }

  /// The layer's stored tensor for `field` (Float32 weights).
  func tensor(_ field: Field) -> Tensor {
    switch field {
    case .inputNorm: return inputNorm
    case .qkvWeight: return qkv.f32Weight
    case .qkvBias: return qkv.bias!
    case .outputWeight: return output.f32Weight
    case .outputBias: return output.bias!
    case .postNorm: return postNorm
    case .gateUpWeight: return gateUp.f32Weight
    case .gateUpBias: return gateUp.bias!
    case .downWeight: return down.f32Weight
    case .downBias: return down.bias!
    }
  }

  public var parameterTable: [LayerParameter] {
    Self.table(config).map { LayerParameter(tensor($0.field), parts: $0.parts) }
  }

  /// The entries of `gradients` (laid out by the table) as the backward uses them.
  struct GradientViews {
    let inputNorm: Tensor
    let qkv: LinearGradient
    let output: LinearGradient
    let postNorm: Tensor
    let gateUp: LinearGradient
    let down: LinearGradient

    init(_ gradients: LayerGradients, config: LlamaConfig) {
      var found: [Field: Tensor] = [:]
      for (entry, gradient) in zip(LlamaLayer.table(config), gradients.tensors) {
        found[entry.field] = gradient
      }
      inputNorm = found[.inputNorm]!
      qkv = LinearGradient(weight: found[.qkvWeight]!, bias: found[.qkvBias])
      output = LinearGradient(weight: found[.outputWeight]!, bias: found[.outputBias])
      postNorm = found[.postNorm]!
      gateUp = LinearGradient(weight: found[.gateUpWeight]!, bias: found[.gateUpBias])
      down = LinearGradient(weight: found[.downWeight]!, bias: found[.downBias])
    }
  }
}

extension LlamaLayer: AttentionSwitching {
  /// A zero o_proj (and bias) makes the layer `x + MLP(x)`; the MLP block's tensors train.
  public func switchOffAttention() -> [Int] {
    output.f32Weight.data.update(repeating: 0)
    output.bias?.data.update(repeating: 0)
    let mlp: Set<Field> = [.postNorm, .gateUpWeight, .gateUpBias, .downWeight, .downBias]
    return Self.table(config).indices.filter { mlp.contains(Self.table(config)[$0].field) }
  }
}

extension LlamaLayer: MLPOutputFolding {
  public var mlpOutputProjection: (weight: String, bias: String?) {
    ("mlp.down_proj.weight", config.mlpBias ? "mlp.down_proj.bias" : nil)
  }

  public func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext,
    beforeMLP: UnsafeMutablePointer<Float>
  ) {
    let saved = forwardSaving(x, batch: batch, rope: context.tables(for: config.rope))
    beforeMLP.update(from: saved.residual.pointer, count: saved.residual.count)
  }
}
