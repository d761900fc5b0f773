/// Mistral: the Llama computation, with sliding-window attention over `sliding_window` tokens.
/// Sequences no longer than the window attend exactly as Llama does; longer ones are refused
/// rather than computed wrongly.
public enum Mistral {
  static func config(_ raw: RawConfig, path: String) throws -> LlamaConfig {
    try LlamaConfig(
      raw, path: path,
      defaults: .init(ropeTheta: 10000, qkvBias: false, slidingWindow: raw.slidingWindow))
  }
}
