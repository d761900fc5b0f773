import Foundation
import Tensors

/// Threaded conversion of checkpoint bytes to compute types.
public enum Convert {
  /// Converts to Float32; false when a value is NaN or infinite. The check rides along with the
  /// conversion (the bytes are in cache), so a damaged checkpoint is caught as it loads without
  /// a separate pass over a model that may not fit in memory.
  @discardableResult
  public static func toFloat(
    _ bytes: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutablePointer<Float>
  ) -> Bool {
    let count = bytes.count / dtype.byteSize
    guard count > 0, let base = bytes.baseAddress else { return true }
    let flag = NonFiniteFlag()
    switch dtype {
    case .F32:
      Parallel.chunks(count, grain: 1 << 16) { range in
        UnsafeMutableRawPointer(out + range.lowerBound).copyMemory(
          from: base + range.lowerBound * 4, byteCount: range.count * 4)
        var bad = false
        for i in range { bad = bad || !out[i].isFinite }
        if bad { flag.raise() }
      }
    case .BF16:
      Parallel.chunks(count, grain: 1 << 16) { range in
        var bad = false
        for i in range {
          let bits = base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
          bad = bad || bits & 0x7F80 == 0x7F80
          out[i] = Numerics.float(fromBF16: bits)
        }
        if bad { flag.raise() }
      }
    case .F16:
      Parallel.chunks(count, grain: 1 << 16) { range in
        var bad = false
        for i in range {
          let bits = base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
          bad = bad || bits & 0x7C00 == 0x7C00
          out[i] = Numerics.float(fromF16: bits)
        }
        if bad { flag.raise() }
      }
    default:
      preconditionFailure("caller checks isComputable")
    }
    return !flag.raised
  }

  /// Converts to bf16; false when a value is NaN or infinite (checked as `toFloat` does).
  @discardableResult
  public static func toBF16(
    _ bytes: UnsafeRawBufferPointer, dtype: DType, into out: UnsafeMutablePointer<UInt16>
  ) -> Bool {
    let count = bytes.count / dtype.byteSize
    guard count > 0, let base = bytes.baseAddress else { return true }
    let flag = NonFiniteFlag()
    switch dtype {
    case .BF16:
      Parallel.chunks(count, grain: 1 << 16) { range in
        UnsafeMutableRawPointer(out + range.lowerBound).copyMemory(
          from: base + range.lowerBound * 2, byteCount: range.count * 2)
        var bad = false
        for i in range { bad = bad || out[i] & 0x7F80 == 0x7F80 }
        if bad { flag.raise() }
      }
    case .F32:
      Parallel.chunks(count, grain: 1 << 16) { range in
        var bad = false
        for i in range {
          let value = base.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
          bad = bad || !value.isFinite
          out[i] = Numerics.bf16(from: value)
        }
        if bad { flag.raise() }
      }
    case .F16:
      Parallel.chunks(count, grain: 1 << 16) { range in
        var bad = false
        for i in range {
          let bits = base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
          bad = bad || bits & 0x7C00 == 0x7C00
          out[i] = Numerics.bf16(from: Numerics.float(fromF16: bits))
        }
        if bad { flag.raise() }
      }
    default:
      preconditionFailure("caller checks isComputable")
    }
    return !flag.raised
  }

  /// Whether every value of `bytes` (F32, F16 or BF16) is finite; checked in place, nothing
  /// converted or allocated.
  public static func allFinite(_ bytes: UnsafeRawBufferPointer, dtype: DType) -> Bool {
    let count = bytes.count / dtype.byteSize
    guard count > 0, let base = bytes.baseAddress else { return true }
    let flag = NonFiniteFlag()
    Parallel.chunks(count, grain: 1 << 16) { range in
      var bad = false
      switch dtype {
      case .F32:
        for i in range {
          let bits = base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
          bad = bad || bits & 0x7F80_0000 == 0x7F80_0000
        }
      case .BF16:
        for i in range {
          bad = bad || base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) & 0x7F80 == 0x7F80
        }
      case .F16:
        for i in range {
          bad = bad || base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) & 0x7C00 == 0x7C00
        }
      default:
        break
      }
      if bad { flag.raise() }
    }
    return !flag.raised
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

/// Set by any conversion thread that met a NaN or infinity; locked only then, which a sound
/// checkpoint never does.
final class NonFiniteFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var value = false

  func raise() {
    lock.lock()
    value = true
    lock.unlock()
  }

  var raised: Bool {
    lock.lock()
    defer { lock.unlock() }
    return value
  }
}
