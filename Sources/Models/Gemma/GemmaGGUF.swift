import Checkpoint
import Foundation

/// Gemma 2 and Gemma 3 as llama.cpp names them (convert_hf_to_gguf's `Gemma2Model` and
/// `Gemma3Model`): architectures `gemma2` and `gemma3`; every RMSNorm weight stored as `1 + w`
/// (llama.cpp multiplies by the stored weight); q and k as Hugging Face stores them (NeoX
/// rotation). Which layers slide is written per layer (`{arch}.attention.sliding_window_pattern`,
/// one bool per layer, which llama.cpp reads before its built-in period of 6 or 2), so a pruned
/// model keeps each kept layer's type. llama.cpp scales attention scores by `head_dim^-½` (the 27B
/// models' `hidden/heads` only when it recognises them by their layer count, which a pruned model
/// no longer has), so a `query_pre_attn_scalar` other than `head_dim` is refused.
extension GemmaConfig: GGUFNaming {
  public var ggufArchitecture: String { family == .gemma3 ? "gemma3" : "gemma2" }

  public func ggufHyperparameters() throws -> [GGUF.Entry] {
    guard abs(attentionScale * Float(headDim).squareRoot() - 1) < 1e-6 else {
      throw ModelError.unsupportedFeature(
        path: "config.json",
        feature:
          "query_pre_attn_scalar other than head_dim \(headDim) in a GGUF export (llama.cpp scales by head_dim^-1/2 unless it recognises an unpruned 27B model)",
        supported: "query_pre_attn_scalar = head_dim")
    }
    var entries = commonHyperparameters(
      layers: numLayers, context: maxPositions ?? (family == .gemma3 ? 131072 : nil),
      hidden: hiddenSize, feedForward: intermediateSize, heads: numHeads, kvHeads: numKVHeads,
      ropeTheta: fullRope.theta, rmsEps: rmsNormEps, headDim: headDim)
    switch fullRope.scaling {
    case .none:
      break
    case .linear(let factor):
      entries.append(GGUF.Entry(key("rope.scaling.type"), .string("linear")))
      entries.append(GGUF.Entry(key("rope.scaling.factor"), .float32(Float(factor))))
    default:
      throw ModelError.unsupportedFeature(
        path: "config.json", feature: "this rope scaling in a Gemma GGUF export",
        supported: "default, linear")
    }
    if family == .gemma3 && sliding.contains(true) {
      entries.append(GGUF.Entry(key("rope.freq_base_swa"), .float32(Float(slidingRope.theta))))
    }
    if let attentionSoftcap {
      entries.append(GGUF.Entry(key("attn_logit_softcapping"), .float32(attentionSoftcap)))
    }
    if let finalSoftcap {
      entries.append(GGUF.Entry(key("final_logit_softcapping"), .float32(finalSoftcap)))
    }
    if let slidingWindow, sliding.contains(true) {
      entries.append(GGUF.Entry(key("attention.sliding_window"), .uint32(UInt32(slidingWindow))))
      entries.append(GGUF.Entry(key("attention.sliding_window_pattern"), .array(.bool(sliding))))
    }
    return entries
  }

  public func ggufTensors() throws -> [GGUFTensorPlan] {
    let names: [String: String] = [
      "input_layernorm.weight": "attn_norm.weight",
      "post_attention_layernorm.weight": "post_attention_norm.weight",
      "pre_feedforward_layernorm.weight": "ffn_norm.weight",
      "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
    ]
    var plans = [
      GGUFTensorPlan(
        "token_embd.weight", source: Self.embeddingName, shape: [vocabSize, hiddenSize])
    ]
    for layer in 0..<numLayers {
      let prefix = layerPrefix(layer)
      for (name, shape) in layerTensors(layer) {
        let local = String(name.dropFirst(prefix.count))
        guard let short = names[local] ?? GGUFTensorPlan.llamaLikeName(local) else {
          throw ModelError.unsupportedFeature(
            path: name, feature: "tensor \(local) in a GGUF export", supported: "Gemma's tensors")
        }
        plans.append(
          GGUFTensorPlan(
            "blk.\(layer).\(short)", source: name, shape: shape,
            transform: local.hasSuffix("norm.weight") ? .addOne : .none))
      }
    }
    plans.append(
      GGUFTensorPlan(
        "output_norm.weight", source: Self.finalNormName, shape: [hiddenSize], transform: .addOne))
    if !tieWordEmbeddings {
      plans.append(
        GGUFTensorPlan("output.weight", source: Self.headName, shape: [vocabSize, hiddenSize]))
    }
    return plans
  }
}
