import Foundation

/// The activation of a gated MLP, `act(g)·u`, for `Kernels.gate` and its backward: each
/// written once here, with its floating-point operations in the order its kernel has always
/// used.
protocol GateActivation {
  static func value(_ g: VectorMath.Vector) -> VectorMath.Vector
  static func value(_ g: Float) -> Float
  /// What the gradient `d` of `act(g)·u` adds to g's and to u's gradients.
  static func gradients(_ d: Float, gate g: Float, up u: Float) -> (gate: Float, up: Float)
}

/// `silu(g) = g·σ(g)`:
///
///     dg += d · u · σ(g) · (1 + g · (1 − σ(g)))      du += d · g · σ(g)
enum SiLU: GateActivation {
  @inline(__always)
  static func value(_ g: VectorMath.Vector) -> VectorMath.Vector { VectorMath.silu(g) }

  @inline(__always)
  static func value(_ g: Float) -> Float { g / (1 + expf(-g)) }

  @inline(__always)
  static func gradients(_ d: Float, gate g: Float, up u: Float) -> (gate: Float, up: Float) {
    let sigmoid = 1 / (1 + expf(-g))
    return (d * u * sigmoid * (1 + g * (1 - sigmoid)), d * g * sigmoid)
  }
}

/// `gelu_tanh(g) = g·σ(2y)`, `y = √(2/π)·(g + 0.044715·g³)`:
///
///     dg += d · u · (σ(2y) + g · σ(2y)·(1 − σ(2y)) · 2y')     y' = √(2/π)·(1 + 3·0.044715·g²)
///     du += d · g · σ(2y)
enum GELUTanh: GateActivation {
  @inline(__always)
  static func value(_ g: VectorMath.Vector) -> VectorMath.Vector { VectorMath.geluTanh(g) }

  @inline(__always)
  static func value(_ g: Float) -> Float { Kernels.geluTanh(g) }

  @inline(__always)
  static func gradients(_ d: Float, gate g: Float, up u: Float) -> (gate: Float, up: Float) {
    let y = Kernels.geluFactor * (g + Kernels.geluCubic * g * g * g)
    let dy = Kernels.geluFactor * (1 + 3 * Kernels.geluCubic * g * g)
    let sigmoid = 1 / (1 + expf(-2 * y))
    return (d * u * (sigmoid + g * sigmoid * (1 - sigmoid) * 2 * dy), d * g * sigmoid)
  }
}
