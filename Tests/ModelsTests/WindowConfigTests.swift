import Foundation
import Models
import Testing

/// Where each family's config puts sliding windows, as transformers' configuration classes do.
@Suite struct WindowConfigTests {
  static func config(_ extra: String, modelType: String = "qwen3") throws -> any Architecture {
    let json = """
      {"model_type": "\(modelType)", "hidden_size": 32, "intermediate_size": 64,
       "num_hidden_layers": 3, "num_attention_heads": 4, "vocab_size": 10\(extra)}
      """
    return try Architectures.config(from: Data(json.utf8), path: "config.json")
  }

  static func windows(_ config: any Architecture) -> [Int?] {
    (config as? Qwen3Config)?.base.layerWindows ?? (config as! LlamaConfig).layerWindows
  }

  @Test func qwenSlidesFromMaxWindowLayersWithoutLayerTypes() throws {
    let on = try Self.config(
      #", "use_sliding_window": true, "sliding_window": 8, "max_window_layers": 1"#)
    #expect(Self.windows(on) == [nil, 8, 8])
    // transformers' defaults: 28 full layers first, a 4096 window when the key is absent.
    #expect(Self.windows(try Self.config(#", "use_sliding_window": true"#)) == [nil, nil, nil])
    let early = try Self.config(#", "use_sliding_window": true, "max_window_layers": 0"#)
    #expect(Self.windows(early) == [4096, 4096, 4096])
    let off = try Self.config(#", "sliding_window": 8, "max_window_layers": 0"#)
    #expect(Self.windows(off) == [nil, nil, nil])
    let qwen2 = try Self.config(
      #", "use_sliding_window": true, "sliding_window": 8, "max_window_layers": 2"#,
      modelType: "qwen2")
    #expect(Self.windows(qwen2) == [nil, nil, 8])
  }

  @Test func layerTypesChooseTheSlidingLayers() throws {
    let typed = try Self.config(
      #", "use_sliding_window": true, "sliding_window": 6, "max_window_layers": 0, "#
        + #""layer_types": ["sliding_attention", "full_attention", "sliding_attention"]"#)
    #expect(Self.windows(typed) == [6, nil, 6])
    // Sliding layers with no window: transformers refuses it too.
    #expect(throws: ModelError.self) {
      try Self.config(
        #", "layer_types": ["sliding_attention", "full_attention", "full_attention"]"#)
    }
  }

  @Test func mistralSlidesEveryLayer() throws {
    #expect(Self.windows(try Self.config("", modelType: "mistral")) == [4096, 4096, 4096])
    let off = try Self.config(#", "sliding_window": null"#, modelType: "mistral")
    #expect(Self.windows(off) == [nil, nil, nil])
    #expect(Self.windows(try Self.config("", modelType: "llama")) == [nil, nil, nil])
  }

  @Test func qwen3HeadDimDefaultsTo128() throws {
    #expect(try Self.config("").headDim == 128)
    #expect(try Self.config(#", "head_dim": 16"#).headDim == 16)
    #expect(try Self.config("", modelType: "qwen2").headDim == 8)
  }
}
