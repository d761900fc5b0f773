import Tensors
import Testing

@testable import Checkpoint

/// Float32 → bf16 / f16 against bit patterns PyTorch 2.13 produces (`tensor.to(torch.bfloat16)`,
/// `tensor.to(torch.float16)`), round-to-nearest-even throughout.
@Suite struct RoundingTests {
  /// (Float32 bits, bf16 bits, f16 bits)
  static let cases: [(UInt32, UInt16, UInt16)] = [
    (0x3F80_0000, 0x3F80, 0x3C00),  // 1
    (0x3F80_8000, 0x3F80, 0x3C04),  // bf16 tie, even below
    (0x3F81_8000, 0x3F82, 0x3C0C),  // bf16 tie, even above
    (0x3F80_8001, 0x3F81, 0x3C04),  // just past the tie
    (0x3F80_FFFF, 0x3F81, 0x3C08),
    (0x3F80_1000, 0x3F80, 0x3C00),  // f16 tie, even below
    (0x3F80_3000, 0x3F80, 0x3C02),  // f16 tie, even above
    (0x3F80_1001, 0x3F80, 0x3C01),
    (0x7F7F_FFFF, 0x7F80, 0x7C00),  // largest float rounds to inf in both
    (0x7F80_0000, 0x7F80, 0x7C00),  // +inf
    (0xFF80_0000, 0xFF80, 0xFC00),  // -inf
    (0x8000_0000, 0x8000, 0x8000),  // -0
    (0x0000_0001, 0x0000, 0x0000),  // smallest float32 subnormal
    (0x0001_8000, 0x0002, 0x0000),  // float32 subnormal, bf16 tie up to even
    (0x0000_8000, 0x0000, 0x0000),  // float32 subnormal, bf16 tie down to even
    (0x3380_0000, 0x3380, 0x0001),  // 2^-24, smallest f16 subnormal
    (0x3300_0000, 0x3300, 0x0000),  // 2^-25, f16 tie down to 0
    (0x3300_0001, 0x3300, 0x0001),
    (0x33C0_0000, 0x33C0, 0x0002),  // 1.5 × 2^-24, f16 tie up to even
    (0x387F_C000, 0x3880, 0x03FF),  // largest f16 subnormal
    (0x3880_0000, 0x3880, 0x0400),  // smallest f16 normal
    (0x477F_F000, 0x4780, 0x7C00),  // 65520 rounds to f16 inf
    (0x477F_EFFF, 0x4780, 0x7BFF),  // just below: 65504
    (0xC77F_F000, 0xC780, 0xFC00),
  ]

  @Test func knownBitPatterns() {
    for (f32, bf16, f16) in Self.cases {
      let value = Float(bitPattern: f32)
      #expect(Numerics.bf16(from: value) == bf16, "bf16 of \(String(f32, radix: 16))")
      #expect(Numerics.f16(from: value) == f16, "f16 of \(String(f32, radix: 16))")
    }
  }

  @Test func nanStaysNaN() {
    for bits: UInt32 in [0x7FC0_0000, 0xFFC0_0001, 0x7F80_0001, 0x7FFF_FFFF] {
      let value = Float(bitPattern: bits)
      let bf16 = Numerics.bf16(from: value)
      #expect(
        bf16 & 0x7F80 == 0x7F80 && bf16 & 0x007F != 0, "bf16 NaN from \(String(bits, radix: 16))")
      #expect(bf16 & 0x0040 != 0, "quiet")
      let f16 = Numerics.f16(from: value)
      #expect(
        f16 & 0x7C00 == 0x7C00 && f16 & 0x03FF != 0, "f16 NaN from \(String(bits, radix: 16))")
      #expect(Numerics.float(fromBF16: bf16).isNaN)
      #expect(Numerics.float(fromF16: f16).isNaN)
    }
  }

  @Test func widenIsExact() {
    for (_, bf16, f16) in Self.cases {
      #expect(Numerics.float(fromBF16: bf16).bitPattern == UInt32(bf16) << 16)
      let wide = Numerics.float(fromF16: f16)
      #expect(Numerics.f16(from: wide) == f16, "f16 → f32 → f16 is the identity")
    }
    #expect(Numerics.float(fromF16: 0x0001) == 0x1p-24)
    #expect(Numerics.float(fromF16: 0x7BFF) == 65504)
  }

  /// The writer's encoding is the same rounding, byte for byte, little-endian.
  @Test func writerEncodesWithTheSameRounding() throws {
    let values = Self.cases.map { Float(bitPattern: $0.0) }
    for (dtype, expected) in [(DType.BF16, Self.cases.map(\.1)), (.F16, Self.cases.map(\.2))] {
      let data = try SafeTensorsWriter.serialize([
        try WritableTensor("v", shape: [values.count], values: values, as: dtype)
      ])
      let tail = Array(data.suffix(values.count * 2))
      let decoded = stride(from: 0, to: tail.count, by: 2).map {
        UInt16(tail[$0]) | UInt16(tail[$0 + 1]) << 8
      }
      #expect(decoded == expected, "\(dtype)")
    }
  }
}
