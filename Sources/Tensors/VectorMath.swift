/// Vectorised transcendental functions for the element-wise kernels.
public enum VectorMath {
  public typealias Vector = SIMD8<Float>

  /// eˣ to within 2 ulp over the whole Float range: x = k·ln2 + r with |r| ≤ ln2/2 (ln2 split
  /// in two for an exact reduction), a degree-6 polynomial for eʳ, and 2ᵏ built in the exponent
  /// bits. Inputs below -88 flush to 0; above 88.7 overflow to infinity.
  @inline(__always)
  public static func exp(_ x: Vector) -> Vector {
    // Comparisons and blends vectorise; the generic `clamped` goes lane by lane.
    var clamped = x
    clamped.replace(with: -87.33654, where: x .< -87.33654)
    clamped.replace(with: 88.72283, where: x .> 88.72283)
    // Adding 1.5·2²³ rounds to the nearest integer (ties to even) in the float unit and leaves
    // that integer in the low mantissa bits: no float-to-int conversion, which Swift's generic
    // SIMD code does one lane at a time.
    let magic = Vector(repeating: 12_582_912)
    let shifted = clamped * 1.442_695_04 + magic
    let k = shifted - magic
    var r = clamped - k * 0.693_145_751_953_125
    r = r - k * 1.428_606_765_330_187_045e-6
    var p = Vector(repeating: 1.987_569_150_0e-4)
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    p = p * r * r + r + 1
    let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let scale = unsafeBitCast((integer &+ 127) &<< 23, to: Vector.self)
    var result = p * scale
    result.replace(with: 0, where: x .< -87.33654)
    result.replace(with: .infinity, where: x .> 88.72283)
    return result
  }

  /// tanh, to a few ulp: `1 − 2/(e^{2x} + 1)`, and below |x| < 1/16, where that formula
  /// cancels, the odd series to x⁵ (its first omitted term is under 1e-9 of x there).
  @inline(__always)
  public static func tanh(_ x: Vector) -> Vector {
    var result = 1 - 2 / (exp(2 * x) + 1)
    let x2 = x * x
    let series = x * (1 + x2 * (-1.0 / 3 + x2 * (2.0 / 15)))
    result.replace(with: series, where: x2 .< 1.0 / 256)
    return result
  }

  /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, written `x·σ(2y)`.
  @inline(__always)
  public static func geluTanh(_ x: Vector) -> Vector {
    let y = 0.797_884_56 * (x + 0.044_715 * x * x * x)
    return x / (1 + exp(-2 * y))
  }

  /// `x · σ(x)`, the SiLU activation.
  @inline(__always)
  public static func silu(_ x: Vector) -> Vector {
    x / (1 + exp(-x))
  }
}
