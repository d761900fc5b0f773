import Tensors

/// A small, fast, seeded generator (SplitMix64) for reproducible random weights.
public struct SplitMix: RandomNumberGenerator, Sendable {
  var state: UInt64

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Fisher–Yates shuffle of `items` in place, reproducible for a seed (Swift's own
  /// `shuffle(using:)` leaves the sequence of draws unspecified).
  public mutating func shuffle<T>(_ items: inout [T]) {
    for i in stride(from: items.count - 1, to: 0, by: -1) {
      items.swapAt(i, Int(next() % UInt64(i + 1)))
    }
  }

  /// Uniform in [-1, 1).
  public mutating func nextSigned() -> Float {
    Float(next() >> 40) / Float(1 << 23) - 1
  }
}

extension Linear {
  /// Uniform weights in ±1/√in, as PyTorch initialises a Linear layer.
  static func random(
    outFeatures: Int, inFeatures: Int, bias: Bool, precision: Precision,
    using generator: inout SplitMix
  ) -> Linear {
    let bound = 1 / Float(inFeatures).squareRoot()
    let values = Tensor(uninitialized: [outFeatures, inFeatures])
    for i in 0..<values.count { values.data[i] = bound * generator.nextSigned() }
    let storage: Storage
    switch precision.effective {
    case .f32:
      storage = .f32(values)
    case .bf16:
      let converted = BF16Tensor(uninitialized: values.shape)
      Kernels.toBF16(values.pointer, out: converted.pointer, count: values.count)
      storage = .bf16(converted)
    }
    let biasValues = bias ? Tensor(zeros: [outFeatures]) : nil
    return Linear(
      weight: storage, bias: biasValues, outFeatures: outFeatures, inFeatures: inFeatures)
  }
}
