/// OPT has no llama.cpp architecture.
extension OPTConfig: GGUFRefusal {
  public var ggufRefusal: String {
    "llama.cpp has no OPT architecture (LayerNorm with biases, ReLU, learned positions offset by 2), so nothing it loads could hold this model"
  }
}
