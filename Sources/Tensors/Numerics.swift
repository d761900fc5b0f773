/// Scalar conversions between the floating-point formats checkpoints use.
public enum Numerics {
  /// bfloat16 → Float32 is exact: the bf16 bits are the high half of the Float32.
  @inline(__always)
  public static func float(fromBF16 bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
  }

  /// Float32 → bfloat16 with round-to-nearest-even, NaN kept quiet, as PyTorch rounds.
  @inline(__always)
  public static func bf16(from value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
    let rounding = ((bits >> 16) & 1) &+ 0x7FFF
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
  }

  /// IEEE half → Float32, exact.
  @inline(__always)
  public static func float(fromF16 bits: UInt16) -> Float {
    Float(Float16(bitPattern: bits))
  }

  /// Float32 → IEEE half, round-to-nearest-even.
  @inline(__always)
  public static func f16(from value: Float) -> UInt16 {
    Float16(value).bitPattern
  }
}
