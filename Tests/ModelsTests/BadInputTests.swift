import Checkpoint
import Foundation
import Models
import Testing

/// Broken checkpoints and requests end in a typed error naming the problem, never a crash.
@Suite struct BadInputTests {
  /// A copy of a fixture model whose config.json is edited by `edit`.
  func copy(
    _ variant: String, editing edit: (inout [String: Any]) -> Void = { _ in }
  ) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "streamline-test-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: Fixtures.model(variant), to: folder)
    let configURL = folder.appendingPathComponent("config.json")
    var config =
      try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
    edit(&config)
    try JSONSerialization.data(withJSONObject: config).write(to: configURL)
    return folder
  }

  func message(_ body: () throws -> Void) -> String? {
    do {
      try body()
      return nil
    } catch {
      return "\(error)"
    }
  }

  @Test func unknownArchitectureListsTheSupportedOnes() throws {
    let folder = try copy("llama-gqa") { $0["model_type"] = "gpt_neox" }
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = message { _ = try DecoderModel(url: folder) }
    #expect(text?.contains("gpt_neox") == true)
    for family in ["llama", "mistral", "opt", "phi3", "qwen2", "qwen3"] {
      #expect(text?.contains(family) == true, "\(family) is not listed")
    }
    #expect(text?.contains("config.json") == true)
  }

  @Test func unsupportedRopeTypeIsNamed() throws {
    let folder = try copy("llama-gqa") {
      $0["rope_parameters"] = ["rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0]
    }
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = message { _ = try DecoderModel(url: folder) }
    #expect(text?.contains("rope type \"yarn\"") == true)
    #expect(text?.contains("default, linear, llama3") == true)
  }

  @Test func shapeDisagreeingWithConfigNamesTheTensor() throws {
    let folder = try copy("llama-gqa") { $0["intermediate_size"] = 96 }
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = message { _ = try DecoderModel(url: folder) }
    #expect(text?.contains("gate_proj.weight") == true || text?.contains("down_proj") == true)
    #expect(text?.contains("disagrees with config.json") == true)
  }

  @Test func missingLayerTensorIsReported() throws {
    let folder = try copy("llama-gqa") { $0["num_hidden_layers"] = 7 }
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = message { _ = try DecoderModel(url: folder) }
    #expect(text?.contains("model.layers.6.") == true)
  }

  @Test func extraTensorsAreRefused() throws {
    let folder = try copy("llama-gqa") { $0["num_hidden_layers"] = 5 }
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = message { _ = try DecoderModel(url: folder) }
    #expect(text?.contains("model.layers.5.") == true)
    #expect(text?.contains("not part of this architecture") == true)
  }

  @Test func tokenOutsideTheVocabulary() throws {
    let model = try DecoderModel(url: Fixtures.model("llama-tied"))
    let text = message { try model.forward([[1, 2, 3], [4, 128]], logits: { _, _, _ in }) }
    #expect(text == "sequence 2, position 1: token id 128 is outside the vocabulary (0..<128)")
    #expect(message { try model.forward([[-1]]) } != nil)
    #expect(message { try model.forward([]) } != nil)
    #expect(message { try model.forward([[]]) } != nil)
  }

  @Test func sequencesLongerThanTheWindowAreComputed() throws {
    let folder = try copy("mistral") { $0["sliding_window"] = 4 }
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = try DecoderModel(url: folder)
    #expect(message { try model.forward([[1, 2, 3, 4, 5, 6, 7, 8, 9]]) } == nil)
  }

  @Test func configWithWrongTypesIsAnErrorNotACrash() throws {
    let folder = try copy("llama-gqa") { $0["hidden_size"] = "big" }
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = message { _ = try DecoderModel(url: folder) }
    #expect(text?.contains("hidden_size") == true)
  }

  @Test func transformers4ConfigLayoutIsRead() throws {
    let json = """
      {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
       "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 10,
       "rope_theta": 500000.0, "rope_scaling": {"type": "linear", "factor": 4.0}}
      """
    let config =
      try Architectures.config(from: Data(json.utf8), path: "config.json") as! LlamaConfig
    #expect(config.rope.theta == 500000)
    #expect(config.rope.scaling == .linear(factor: 4))
    #expect(config.numKVHeads == 4)
    #expect(config.headDim == 16)
  }
}
