/// Qwen2: the Llama computation with biases on q, k and v (never on o_proj), and optional
/// sliding-window attention (`use_sliding_window`), refused for sequences longer than the window.
public enum Qwen2 {
  static func config(_ source: ConfigSource) throws -> any Architecture {
    let raw = source.raw
    let window = raw.useSlidingWindow == true ? raw.slidingWindow : nil
    return try LlamaConfig(
      raw, path: source.path,
      defaults: .init(ropeTheta: 10000, qkvBias: true, slidingWindow: window))
  }
}
