/// Mistral: the Llama computation, with sliding-window attention over `sliding_window` tokens.
/// Sequences no longer than the window attend exactly as Llama does; longer ones are refused
/// rather than computed wrongly.
public enum Mistral {
  static func config(_ source: ConfigSource) throws -> any Architecture {
    try LlamaConfig(
      source.raw, path: source.path,
      defaults: .init(ropeTheta: 10000, qkvBias: false, slidingWindow: source.raw.slidingWindow))
  }
}
