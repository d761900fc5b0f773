import Foundation

/// The registry of supported architectures, keyed by `model_type`. Adding an architecture is
/// one file and one line here.
public enum Architectures {
  static let registry: [String: (RawConfig, String) throws -> LlamaConfig] = [
    "llama": Llama.config,
    "mistral": Mistral.config,
    "qwen2": Qwen2.config,
  ]

  public static var supported: [String] { registry.keys.sorted() }

  /// Reads `config.json` bytes into the configuration of a supported architecture.
  public static func config(from data: Data, path: String) throws -> LlamaConfig {
    let raw = try RawConfig.decode(data, path: path)
    guard let modelType = raw.modelType else {
      throw ModelError.invalidConfig(path: path, reason: "model_type is missing")
    }
    guard let make = registry[modelType] else {
      throw ModelError.unsupportedArchitecture(
        path: path, modelType: modelType, supported: supported)
    }
    return try make(raw, path)
  }
}
