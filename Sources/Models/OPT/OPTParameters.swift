import Tensors

/// The OPT layer's one parameter table (q/k/v stacked), from which the optimizer's order, the
/// gradients' layout and the checkpoint names (`OPTConfig.layerTensors`) all come.
extension OPTLayer {
  enum Field: CaseIterable {
    case attentionNormWeight, attentionNormBias, qkvWeight, qkvBias, outputWeight, outputBias
    case mlpNormWeight, mlpNormBias, fc1Weight, fc1Bias, fc2Weight, fc2Bias
  }

  struct TableEntry {
    let field: Field
    let parts: [(name: String, shape: [Int])]
  }

  /// The table for `config` (norm parameters only when affine, biases only with `enable_bias`).
  static func table(_ config: OPTConfig) -> [TableEntry] {
    let c = config.hiddenSize
    let i = config.intermediateSize
    let attention = ["q_proj", "k_proj", "v_proj"].map { "self_attn." + $0 }
    var entries: [TableEntry] = []
    func add(_ field: Field, _ parts: [(String, [Int])], when condition: Bool = true) {
      if condition { entries.append(TableEntry(field: field, parts: parts)) }
    }
    let affine = config.affineNorms
    let bias = config.bias
    add(.attentionNormWeight, [("self_attn_layer_norm.weight", [c])], when: affine)
    add(.attentionNormBias, [("self_attn_layer_norm.bias", [c])], when: affine)
    add(.qkvWeight, attention.map { ($0 + ".weight", [c, c]) })
    add(.qkvBias, attention.map { ($0 + ".bias", [c]) }, when: bias)
    add(.outputWeight, [("self_attn.out_proj.weight", [c, c])])
    add(.outputBias, [("self_attn.out_proj.bias", [c])], when: bias)
    add(.mlpNormWeight, [("final_layer_norm.weight", [c])], when: affine)
    add(.mlpNormBias, [("final_layer_norm.bias", [c])], when: affine)
    add(.fc1Weight, [("fc1.weight", [i, c])])
    add(.fc1Bias, [("fc1.bias", [i])], when: bias)
    add(.fc2Weight, [("fc2.weight", [c, i])])
    add(.fc2Bias, [("fc2.bias", [c])], when: bias)
    return entries
  }

  /// The layer's stored tensor for `field` (Float32 weights).
  func tensor(_ field: Field) -> Tensor {
    switch field {
    case .attentionNormWeight: return attentionNorm.weight!
    case .attentionNormBias: return attentionNorm.bias!
    case .qkvWeight: return qkv.f32Weight
    case .qkvBias: return qkv.bias!
    case .outputWeight: return output.f32Weight
    case .outputBias: return output.bias!
    case .mlpNormWeight: return mlpNorm.weight!
    case .mlpNormBias: return mlpNorm.bias!
    case .fc1Weight: return fc1.f32Weight
    case .fc1Bias: return fc1.bias!
    case .fc2Weight: return fc2.f32Weight
    case .fc2Bias: return fc2.bias!
    }
  }

  public var parameterTable: [LayerParameter] {
    Self.table(config).map { LayerParameter(tensor($0.field), parts: $0.parts) }
  }

  /// The entries of `gradients` (laid out by the table) as the backward uses them.
  struct GradientViews {
    let attentionNormWeight: Tensor?
    let attentionNormBias: Tensor?
    let qkv: LinearGradient
    let output: LinearGradient
    let mlpNormWeight: Tensor?
    let mlpNormBias: Tensor?
    let fc1: LinearGradient
    let fc2: LinearGradient

    init(_ gradients: LayerGradients, config: OPTConfig) {
      var found: [Field: Tensor] = [:]
      for (entry, gradient) in zip(OPTLayer.table(config), gradients.tensors) {
        found[entry.field] = gradient
      }
      attentionNormWeight = found[.attentionNormWeight]
      attentionNormBias = found[.attentionNormBias]
      qkv = LinearGradient(weight: found[.qkvWeight]!, bias: found[.qkvBias])
      output = LinearGradient(weight: found[.outputWeight]!, bias: found[.outputBias])
      mlpNormWeight = found[.mlpNormWeight]
      mlpNormBias = found[.mlpNormBias]
      fc1 = LinearGradient(weight: found[.fc1Weight]!, bias: found[.fc1Bias])
      fc2 = LinearGradient(weight: found[.fc2Weight]!, bias: found[.fc2Bias])
    }
  }
}
