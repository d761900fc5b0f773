import Foundation

/// What a family's registry entry reads a configuration from: the fields most families share,
/// already decoded, and the raw bytes for a family to decode its own (`Decodable` with
/// explicit snake_case keys and `decodeIfPresent` defaults).
public struct ConfigSource {
  public let raw: RawConfig
  public let data: Data
  /// Where config.json came from, for error messages.
  public let path: String
  /// The top-level values, for the checked reads (`positive`, `count`, `has`).
  let scalars: [String: ConfigScalar]

  public init(raw: RawConfig, data: Data, path: String) {
    self.raw = raw
    self.data = data
    self.path = path
    scalars = (try? JSONDecoder().decode([String: ConfigScalar].self, from: data)) ?? [:]
  }

  /// Reads `data` (config.json's bytes) from `path`.
  public init(data: Data, path: String) throws {
    self.init(raw: try RawConfig.decode(data, path: path), data: data, path: path)
  }
}

/// The registry of supported architectures, keyed by `model_type` (mlx-swift-lm's
/// `LLMModelFactory`). Adding a family is its folder under `Sources/Models/` and one line here.
public enum Architectures {
  static let registry: [String: (ConfigSource) throws -> any Architecture] = [
    "gemma2": Gemma.gemma2,
    "gemma3_text": Gemma.gemma3,
    "llama": Llama.config,
    "mistral": Mistral.config,
    "opt": OPT.config,
    "phi3": Phi3.config,
    "qwen2": Qwen2.config,
    "qwen3": Qwen3.config,
  ]

  public static var supported: [String] { registry.keys.sorted() }

  /// Reads `config.json` bytes into the configuration of a supported architecture.
  public static func config(from data: Data, path: String) throws -> any Architecture {
    let source = try ConfigSource(data: data, path: path)
    guard let modelType = source.raw.modelType else {
      throw ModelError.invalidConfig(path: path, reason: "model_type is missing")
    }
    guard let make = registry[modelType] else {
      throw ModelError.unsupportedArchitecture(
        path: path, modelType: modelType, supported: supported)
    }
    return try make(source)
  }
}
