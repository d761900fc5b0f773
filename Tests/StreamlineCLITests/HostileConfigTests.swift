import ArgumentParser
import Foundation
import Models
import Testing

@testable import StreamlineCLI

/// Hostile config.json files (huge, negative, zero, overflowing, fractional, mistyped and
/// inconsistent values in every integer key of the llama, mistral, qwen2 and qwen3 configs) run
/// through the real `streamline inspect` and `eval` code paths: each ends in one error line
/// naming config.json, never a crash.
@Suite struct HostileConfigTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../Fixtures/models").standardized

  static let variants = ["llama-gqa", "mistral-window", "qwen2-window", "qwen3-sliding"]

  /// JSON literals for a hostile integer: written as text so values past `Int` stay exact.
  static let hostile = [
    "0", "-1", "-4611686018427387904", "4611686018427387904", "9223372036854775807",
    "18446744073709551616", "2147483648", "1e300", "3.5", "\"12\"", "true", "[4]",
  ]

  /// Values some keys legitimately take (0 sliding layers), for which success is fine.
  static func mayPass(_ key: String, _ value: String) -> Bool {
    key == "max_window_layers" && value == "0"
  }

  /// A scratch copy of a fixture model whose config.json `write` rewrites per case.
  final class Scratch {
    let folder: URL
    let template: [String: Any]

    init(_ variant: String) throws {
      folder = FileManager.default.temporaryDirectory.appendingPathComponent(
        "streamline-hostile-\(UUID().uuidString)")
      try FileManager.default.copyItem(
        at: HostileConfigTests.fixtures.appendingPathComponent(variant), to: folder)
      template =
        try JSONSerialization.jsonObject(
          with: Data(contentsOf: folder.appendingPathComponent("config.json"))) as! [String: Any]
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    /// config.json with `key` set to the JSON literal `literal` (removed when nil).
    func write(_ key: String, _ literal: String?) throws {
      var config = template
      config[key] = literal == nil ? nil : "@@VALUE@@"
      var text = String(
        decoding: try JSONSerialization.data(withJSONObject: config, options: .sortedKeys),
        as: UTF8.self)
      if let literal { text = text.replacingOccurrences(of: "\"@@VALUE@@\"", with: literal) }
      try Data(text.utf8).write(to: folder.appendingPathComponent("config.json"))
    }

    var integerKeys: [String] {
      template.keys.filter { key in
        guard let number = template[key] as? NSNumber, !(template[key] is Bool) else {
          return false
        }
        return number.doubleValue.rounded() == number.doubleValue
          && !key.hasSuffix("token_id") && key != "initializer_range"
      }.sorted()
    }
  }

  /// `streamline ARGUMENTS` as the command line runs it; nil on success, else the error's text.
  static func run(_ arguments: [String]) -> String? {
    do {
      var command = try StreamlineCommand.parseAsRoot(arguments)
      try command.run()
      return nil
    } catch {
      return StreamlineCommand.fullMessage(for: error)
    }
  }

  @Test(arguments: variants)
  func everyIntegerKeyRefusesHostileValues(variant: String) throws {
    let scratch = try Scratch(variant)
    let keys = scratch.integerKeys
    #expect(keys.contains("hidden_size") && keys.contains("vocab_size"))
    var cases = 0
    for key in keys {
      for value in Self.hostile {
        try scratch.write(key, value)
        let text = Self.run(["inspect", scratch.folder.path])
        cases += 1
        // A key the family never reads (Llama's sliding_window) may be anything.
        guard let text else {
          #expect(
            Self.mayPass(key, value) || !Self.readKeys(variant).contains(key),
            "\(variant): \(key) = \(value) was accepted")
          continue
        }
        #expect(!text.contains("\n"), "\(variant): \(key) = \(value): \(text)")
        #expect(text.contains("config.json"), "\(variant): \(key) = \(value): \(text)")
        #expect(text.contains(key), "\(variant): \(key) = \(value): \(text)")
      }
    }
    print("\(variant): \(cases) hostile configs, each one error line")
  }

  /// The keys each family reads (and so must check).
  static func readKeys(_ variant: String) -> Set<String> {
    var keys: Set<String> = [
      "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
      "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings",
    ]
    if variant != "llama-gqa" { keys.insert("sliding_window") }
    if variant.hasPrefix("qwen") { keys.insert("max_window_layers") }
    return keys
  }

  /// Values each valid on its own that disagree with each other or with the tensors.
  @Test(arguments: variants)
  func inconsistentConfigsAreOneLine(variant: String) throws {
    let scratch = try Scratch(variant)
    let heads = scratch.template["num_attention_heads"] as! Int
    let cases: [(String, String?)] = [
      ("hidden_size", "33"), ("hidden_size", "131072"), ("intermediate_size", "1048576"),
      ("num_hidden_layers", "4096"), ("num_hidden_layers", "1"),
      ("num_key_value_heads", "3"), ("num_key_value_heads", "\(heads * 2)"),
      ("num_attention_heads", "4096"), ("head_dim", "4096"), ("head_dim", "7"),
      ("vocab_size", "4194304"), ("layer_types", "[\"full_attention\"]"),
      ("layer_types", "[1, 2, 3, 4]"), ("rope_parameters", "{\"rope_type\": \"linear\"}"),
      ("rms_norm_eps", "-1"), ("hidden_size", nil), ("vocab_size", nil),
    ]
    for (key, value) in cases {
      try scratch.write(key, value)
      let text = Self.run(["inspect", scratch.folder.path])
      #expect(text != nil, "\(variant): \(key) = \(value ?? "absent") was accepted")
      if let text {
        #expect(!text.contains("\n"), "\(variant): \(key) = \(value ?? "absent"): \(text)")
      }
    }
  }

  /// `eval` reads the same config through the same checks before any allocation.
  @Test func evalRefusesHostileConfigs() throws {
    let scratch = try Scratch("qwen3-sliding")
    let tokens = scratch.folder.appendingPathComponent("ids.txt")
    try Data("1 2 3 4 5 6 7 8\n".utf8).write(to: tokens)
    for key in ["head_dim", "hidden_size", "vocab_size", "sliding_window", "num_hidden_layers"] {
      try scratch.write(key, "4611686018427387904")
      let text = Self.run(["eval", scratch.folder.path, "--token-ids", tokens.path])
      #expect(text?.contains(key) == true, "\(key): \(text ?? "accepted")")
      #expect(text?.contains("\n") == false)
    }
  }

  /// The fuzzer's crash (head_dim = 2^62 aborted `inspect` allocating RoPE tables), replayed.
  @Test func headDimTwoToThe62IsAnError() throws {
    let reproducer = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../../Fuzz/corpus/fuzz-config/head-dim-2e62.json").standardized
    let data = try Data(contentsOf: reproducer)
    #expect(throws: ModelError.self) {
      _ = try Architectures.config(from: data, path: "config.json")
    }
    let scratch = try Scratch("llama-gqa")
    try data.write(to: scratch.folder.appendingPathComponent("config.json"))
    let text = try #require(Self.run(["inspect", scratch.folder.path]))
    #expect(text.contains("head_dim is 4611686018427387904, but must be an integer from 1 to 4096"))
    #expect(!text.contains("\n"))
  }
}
