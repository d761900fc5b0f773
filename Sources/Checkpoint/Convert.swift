import Tensors

/// Threaded conversion of checkpoint bytes to compute types.
public enum Convert {
  public static func toFloat(
    _ bytes: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutablePointer<Float>
  ) {
    let count = bytes.count / dtype.byteSize
    guard count > 0, let base = bytes.baseAddress else { return }
    switch dtype {
    case .F32:
      Parallel.chunks(count, grain: 1 << 16) { range in
        UnsafeMutableRawPointer(out + range.lowerBound).copyMemory(
          from: base + range.lowerBound * 4, byteCount: range.count * 4)
      }
    case .BF16:
      Parallel.chunks(count, grain: 1 << 16) { range in
        for i in range {
          out[i] = Numerics.float(
            fromBF16: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        }
      }
    case .F16:
      Parallel.chunks(count, grain: 1 << 16) { range in
        for i in range {
          out[i] = Numerics.float(
            fromF16: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
        }
      }
    default:
      preconditionFailure("caller checks isComputable")
    }
  }

  public static func toBF16(
    _ bytes: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutablePointer<UInt16>
  ) {
    let count = bytes.count / dtype.byteSize
    guard count > 0, let base = bytes.baseAddress else { return }
    switch dtype {
    case .BF16:
      UnsafeMutableRawPointer(out).copyMemory(from: base, byteCount: count * 2)
    case .F32:
      Parallel.chunks(count, grain: 1 << 16) { range in
        for i in range {
          out[i] = Numerics.bf16(from: base.loadUnaligned(fromByteOffset: 4 * i, as: Float.self))
        }
      }
    case .F16:
      Parallel.chunks(count, grain: 1 << 16) { range in
        for i in range {
          let value = Numerics.float(
            fromF16: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
          out[i] = Numerics.bf16(from: value)
        }
      }
    default:
      preconditionFailure("caller checks isComputable")
    }
  }

  /// Float32 values encoded as `dtype` bytes, for writing checkpoints.
  public static func encode(_ values: UnsafeBufferPointer<Float>, as dtype: DType) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: values.count * dtype.byteSize)
    out.withUnsafeMutableBytes { raw in
      switch dtype {
      case .F32:
        raw.copyMemory(from: UnsafeRawBufferPointer(values))
      case .BF16:
        for (i, v) in values.enumerated() {
          raw.storeBytes(
            of: Numerics.bf16(from: v).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
        }
      case .F16:
        for (i, v) in values.enumerated() {
          raw.storeBytes(
            of: Numerics.f16(from: v).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
        }
      default:
        preconditionFailure("checkpoints are written as F32, F16 or BF16")
      }
    }
    return out
  }
}
