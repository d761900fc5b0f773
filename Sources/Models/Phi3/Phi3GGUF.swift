import Checkpoint
import Foundation

/// Phi-3 (and Phi-3.5, Phi-4-mini) as llama.cpp names it (convert_hf_to_gguf's `Phi3MiniModel`):
/// architecture `phi3`, the fused tensors as Hugging Face stores them (`qkv_proj` is `attn_qkv`,
/// `gate_up_proj` is `ffn_up` with the gate rows first, which llama.cpp's SwiGLU splits in
/// halves), q and k rotated NeoX style (no permutation), the partial rotary as
/// `rope.dimension_count`, and LongRoPE as the `rope_factors_long`/`rope_factors_short` tensors
/// with `rope.scaling.attn_factor` and `rope.scaling.original_context_length`.
///
/// What llama.cpp computes differently, and is said: it picks the long factors for a whole
/// context larger than `original_max_position_embeddings` (transformers and Streamline pick per
/// sequence by its length), and it switches Phi-3's sliding window off (written as the converter
/// writes it; nothing changes for sequences no longer than the window).
extension Phi3Config: GGUFNaming {
  public var ggufArchitecture: String { "phi3" }

  public func ggufHyperparameters() throws -> [GGUF.Entry] {
    // llama.cpp's phi3 makes the output projection hidden × hidden and counts rotary dimensions
    // as int(partial_rotary_factor · hidden) / heads.
    guard queryWidth == hiddenSize else {
      throw ModelError.unsupportedFeature(
        path: "config.json",
        feature:
          "num_attention_heads × head_dim (\(queryWidth)) other than hidden_size (\(hiddenSize)) in a GGUF export (llama.cpp's phi3 assumes them equal)",
        supported: "head_dim = hidden_size / num_attention_heads")
    }
    var entries: [GGUF.Entry] = []
    if let maxPositions {
      entries.append(GGUF.Entry(key("context_length"), .uint32(UInt32(maxPositions))))
    }
    entries += [
      GGUF.Entry(
        key("rope.scaling.original_context_length"), .uint32(UInt32(originalMaxPositions))),
      GGUF.Entry(key("embedding_length"), .uint32(UInt32(hiddenSize))),
      GGUF.Entry(key("feed_forward_length"), .uint32(UInt32(intermediateSize))),
      GGUF.Entry(key("block_count"), .uint32(UInt32(numLayers))),
      GGUF.Entry(key("attention.head_count"), .uint32(UInt32(numHeads))),
      GGUF.Entry(key("attention.head_count_kv"), .uint32(UInt32(numKVHeads))),
      GGUF.Entry(key("attention.layer_norm_rms_epsilon"), .float32(rmsNormEps)),
      GGUF.Entry(key("rope.dimension_count"), .uint32(UInt32(rope.dimension))),
      GGUF.Entry(key("rope.freq_base"), .float32(Float(rope.theta))),
      GGUF.Entry(key("attention.sliding_window"), .uint32(UInt32(window ?? 0))),
      GGUF.Entry(key("attention.key_length"), .uint32(UInt32(headDim))),
      GGUF.Entry(key("attention.value_length"), .uint32(UInt32(headDim))),
    ]
    switch rope.scaling {
    case .none:
      break
    case .longrope(_, _, _, let attentionFactor, _):
      entries.append(GGUF.Entry(key("rope.scaling.attn_factor"), .float32(Float(attentionFactor))))
    default:
      throw ModelError.unsupportedFeature(
        path: "config.json", feature: "this rope scaling in a Phi-3 GGUF export",
        supported: "default, longrope")
    }
    return entries
  }

  public func ggufTensors() throws -> [GGUFTensorPlan] {
    var plans: [GGUFTensorPlan] = []
    if case .longrope(let short, let long, _, _, _) = rope.scaling {
      plans.append(
        GGUFTensorPlan(
          "rope_factors_long.weight", source: nil, shape: [long.count],
          transform: .values(long.map { Float($0) })))
      plans.append(
        GGUFTensorPlan(
          "rope_factors_short.weight", source: nil, shape: [short.count],
          transform: .values(short.map { Float($0) })))
    }
    plans.append(
      GGUFTensorPlan(
        "token_embd.weight", source: Self.embeddingName, shape: [vocabSize, hiddenSize]))
    let names: [String: String] = [
      "input_layernorm.weight": "attn_norm.weight",
      "self_attn.qkv_proj.weight": "attn_qkv.weight",
      "self_attn.o_proj.weight": "attn_output.weight",
      "post_attention_layernorm.weight": "ffn_norm.weight",
      "mlp.gate_up_proj.weight": "ffn_up.weight",
      "mlp.down_proj.weight": "ffn_down.weight",
    ]
    for layer in 0..<numLayers {
      let prefix = layerPrefix(layer)
      for (name, shape) in layerTensors(layer) {
        let local = String(name.dropFirst(prefix.count))
        guard let short = names[local] else {
          throw ModelError.unsupportedFeature(
            path: name, feature: "tensor \(local) in a GGUF export", supported: "Phi-3's tensors")
        }
        plans.append(GGUFTensorPlan("blk.\(layer).\(short)", source: name, shape: shape))
      }
    }
    plans.append(
      GGUFTensorPlan("output_norm.weight", source: Self.finalNormName, shape: [hiddenSize]))
    if !tieWordEmbeddings {
      plans.append(
        GGUFTensorPlan("output.weight", source: Self.headName, shape: [vocabSize, hiddenSize]))
    }
    return plans
  }
}
