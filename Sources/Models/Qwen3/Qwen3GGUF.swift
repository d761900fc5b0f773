import Checkpoint

/// Qwen3 is llama.cpp's `qwen3`: Qwen2's names and hyperparameters, plus the per-head q/k norms
/// (`attn_q_norm`, `attn_k_norm`), stored as they are.
extension Qwen3Config: GGUFNaming {
  public var ggufArchitecture: String { "qwen3" }

  public func ggufHyperparameters() throws -> [GGUF.Entry] { try base.ggufHyperparameters() }

  public func ggufTensors() throws -> [GGUFTensorPlan] {
    try base.ggufTensors(layerTensors: layerTensors)
  }
}
