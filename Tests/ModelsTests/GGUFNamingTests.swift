import Checkpoint
import Foundation
import Testing

@testable import Models

/// Each family's GGUF names and hyperparameters, as llama.cpp's converter writes them.
@Suite struct GGUFNamingTests {
  func architecture(_ name: String, editing: ((inout [String: Any]) -> Void)? = nil) throws
    -> any Architecture
  {
    let url = Fixtures.model(name).appendingPathComponent("config.json")
    var data = try Data(contentsOf: url)
    if let editing {
      var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
      editing(&object)
      data = try JSONSerialization.data(withJSONObject: object)
    }
    return try Architectures.config(from: data, path: url.path)
  }

  func naming(_ name: String) throws -> any GGUFNaming {
    try #require(try architecture(name) as? any GGUFNaming)
  }

  func value(_ entries: [GGUF.Entry], _ key: String) -> GGUF.Value? {
    entries.first { $0.key == key }?.value
  }

  @Test func llamaAndMistralAreLlamaWithPermutedQK() throws {
    for name in ["llama-gqa", "mistral-window"] {
      let naming = try naming(name)
      #expect(naming.ggufArchitecture == "llama")
      let plans = try naming.ggufTensors()
      let q = try #require(plans.first { $0.name == "blk.0.attn_q.weight" })
      let k = try #require(plans.first { $0.name == "blk.0.attn_k.weight" })
      let v = try #require(plans.first { $0.name == "blk.0.attn_v.weight" })
      let config = try architecture(name)
      #expect(q.transform == .ropePermute(heads: config.numHeads))
      #expect(k.transform == .ropePermute(heads: config.numKVHeads))
      #expect(v.transform == .none)
      let entries = try naming.ggufHyperparameters()
      #expect(value(entries, "llama.block_count") == .uint32(UInt32(config.numLayers)))
      #expect(value(entries, "llama.rope.dimension_count") == .uint32(UInt32(config.headDim)))
      #expect(value(entries, "llama.vocab_size") == .uint32(UInt32(config.vocabSize)))
    }
  }

  @Test func llama3RopeTravelsAsRopeFreqs() throws {
    let plans = try naming("llama3-rope").ggufTensors()
    let freqs = try #require(plans.first { $0.name == "rope_freqs.weight" })
    guard case .values(let factors) = freqs.transform else {
      Issue.record("rope_freqs is not computed")
      return
    }
    #expect(factors.count == freqs.shape[0])
    #expect(factors.allSatisfy { $0 >= 1 })
  }

  @Test func qwenFamiliesKeepHuggingFaceLayoutsAndNames() throws {
    let qwen2 = try naming("qwen2-bias")
    #expect(qwen2.ggufArchitecture == "qwen2")
    let plans2 = try qwen2.ggufTensors()
    #expect(plans2.contains { $0.name == "blk.0.attn_q.bias" && $0.transform == .none })
    #expect(value(try qwen2.ggufHyperparameters(), "qwen2.vocab_size") == nil)
    let qwen3 = try naming("qwen3")
    #expect(qwen3.ggufArchitecture == "qwen3")
    let plans3 = try qwen3.ggufTensors()
    #expect(plans3.contains { $0.name == "blk.0.attn_q_norm.weight" })
    #expect(plans3.contains { $0.name == "blk.0.attn_k_norm.weight" })
    #expect(plans3.allSatisfy { $0.transform == .none })
    #expect(value(try qwen3.ggufHyperparameters(), "qwen3.block_count") == .uint32(4))
  }

  @Test func gemma3StoresNormsPlusOneAndTheKeptLayersPattern() throws {
    // The fixture's query_pre_attn_scalar is made head_dim, which llama.cpp assumes.
    let url = Fixtures.model("gemma3-text").appendingPathComponent("config.json")
    var object = try #require(
      try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    object["query_pre_attn_scalar"] = object["head_dim"]
    let config = try Architectures.config(
      from: try JSONSerialization.data(withJSONObject: object), path: url.path)
    let naming = try #require(config as? any GGUFNaming)
    #expect(naming.ggufArchitecture == "gemma3")
    for plan in try naming.ggufTensors() {
      #expect((plan.transform == .addOne) == plan.name.hasSuffix("norm.weight"), "\(plan.name)")
    }
    let original = try #require(
      value(try naming.ggufHyperparameters(), "gemma3.attention.sliding_window_pattern"))
    guard case .array(.bool(let sliding)) = original else {
      Issue.record("no per-layer pattern")
      return
    }
    // Pruned: the pattern has one entry per kept layer, each layer keeping its type.
    let edited = config.editedConfig(object, removing: [1])
    let data = try JSONSerialization.data(withJSONObject: edited)
    let pruned = try #require(
      try Architectures.config(from: data, path: "config.json") as? any GGUFNaming)
    let entries = try pruned.ggufHyperparameters()
    var kept = sliding
    kept.remove(at: 1)
    #expect(value(entries, "gemma3.attention.sliding_window_pattern") == .array(.bool(kept)))
    #expect(value(entries, "gemma3.block_count") == .uint32(UInt32(sliding.count - 1)))
  }

  @Test func whatLlamaCppCannotHoldIsRefusedWithAReason() throws {
    // Gemma 2 with query_pre_attn_scalar 24 and head_dim 16: llama.cpp would scale by 16^-1/2.
    let gemma2 = try naming("gemma2")
    #expect(throws: ModelError.self) { try gemma2.ggufHyperparameters() }
    let fixed = try #require(
      try architecture("gemma2") { $0["query_pre_attn_scalar"] = 16 } as? any GGUFNaming)
    let entries = try fixed.ggufHyperparameters()
    #expect(value(entries, "gemma2.attn_logit_softcapping") == .float32(2))
    #expect(value(entries, "gemma2.final_logit_softcapping") == .float32(4))
    #expect(value(entries, "gemma2.attention.sliding_window") == .uint32(8))
    let opt = try architecture("opt-plain")
    #expect(!(opt is any GGUFNaming))
    #expect((opt as? any GGUFRefusal)?.ggufRefusal.isEmpty == false)
    // llama.cpp's phi3 makes the output projection hidden × hidden.
    let wide = try #require(
      try architecture("phi3-partial") { $0["head_dim"] = 32 } as? any GGUFNaming)
    #expect(throws: ModelError.self) { try wide.ggufHyperparameters() }
  }

  @Test func phi3KeepsItsFusedTensorsAndWritesLongRopeFactors() throws {
    let phi3 = try naming("phi3-longrope")
    let config = try #require(try architecture("phi3-longrope") as? Phi3Config)
    #expect(phi3.ggufArchitecture == "phi3")
    let plans = try phi3.ggufTensors()
    let qkv = try #require(plans.first { $0.name == "blk.0.attn_qkv.weight" })
    #expect(qkv.source == "model.layers.0.self_attn.qkv_proj.weight")
    #expect(qkv.shape == [config.qkvWidth, config.hiddenSize])
    #expect(qkv.transform == .none)
    let up = try #require(plans.first { $0.name == "blk.3.ffn_up.weight" })
    #expect(up.source == "model.layers.3.mlp.gate_up_proj.weight")
    #expect(up.shape == [2 * config.intermediateSize, config.hiddenSize])
    #expect(plans.filter { $0.name.hasPrefix("blk.0.") }.count == 6)
    let long = try #require(plans.first { $0.name == "rope_factors_long.weight" })
    let short = try #require(plans.first { $0.name == "rope_factors_short.weight" })
    #expect(long.transform == .values([1, 1.5, 2.5, 4, 6, 9]))
    #expect(short.transform == .values([1, 1.1, 1.3, 1.6, 2, 2.5]))
    #expect(long.alwaysF32 && short.alwaysF32)
    let entries = try phi3.ggufHyperparameters()
    #expect(value(entries, "phi3.block_count") == .uint32(4))
    #expect(value(entries, "phi3.context_length") == .uint32(32))
    #expect(value(entries, "phi3.rope.scaling.original_context_length") == .uint32(8))
    // partial_rotary_factor 0.75 of 16: 12 rotated features, 6 factors.
    #expect(value(entries, "phi3.rope.dimension_count") == .uint32(12))
    #expect(value(entries, "phi3.attention.sliding_window") == .uint32(0))
    // convert_hf_to_gguf: sqrt(1 + ln(32 / 8) / ln 8).
    let factor = Float((1 + log(4.0) / log(8.0)).squareRoot())
    #expect(value(entries, "phi3.rope.scaling.attn_factor") == .float32(factor))
    let partial = try naming("phi3-partial")
    #expect(try partial.ggufTensors().allSatisfy { !$0.name.hasPrefix("rope_factors") })
    #expect(value(try partial.ggufHyperparameters(), "phi3.rope.scaling.attn_factor") == nil)
  }
}
