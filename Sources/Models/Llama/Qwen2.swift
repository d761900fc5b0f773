/// Qwen2: the Llama computation with biases on q, k and v (never on o_proj), and optional
/// sliding-window attention (`use_sliding_window`, on the layers `layer_types` or
/// `max_window_layers` choose).
public enum Qwen2 {
  static func config(_ source: ConfigSource) throws -> any Architecture {
    try LlamaConfig(source, defaults: .init(ropeTheta: 10000, qkvBias: true, windows: .qwen))
  }
}
