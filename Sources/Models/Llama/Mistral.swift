/// Mistral: the Llama computation, with sliding-window attention over `sliding_window` tokens
/// on every layer.
public enum Mistral {
  static func config(_ source: ConfigSource) throws -> any Architecture {
    try LlamaConfig(
      source, defaults: .init(ropeTheta: 10000, qkvBias: false, windows: .everyLayer))
  }
}
