/// The arithmetic the matrix products use.
public enum Precision: String, Sendable, CaseIterable {
  /// Float32 everywhere: what parity with `transformers` is measured in.
  case f32
  /// bf16 weights and bf16 matrix-product operands with Float32 accumulation; everything else
  /// (norms, softmax, residual stream) stays Float32, as PyTorch's bf16 CPU path does.
  case bf16
}
