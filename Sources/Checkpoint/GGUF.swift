import Foundation
import Tensors

/// The GGUF file format (version 3) as llama.cpp's `ggml/src/gguf.cpp` reads it and the `gguf`
/// Python package writes it; this knows the format and nothing of architectures.
///
/// Layout, all little-endian: the magic `GGUF`, the version (u32 3), the tensor count and the
/// key-value count (u64 each); each key-value pair (key as a string, value type u32, value);
/// each tensor's info (name, dimension count u32, dimensions u64 innermost first, ggml type u32,
/// offset u64 from the start of the data section); zero padding to the alignment; then the
/// tensors' data, each starting at a multiple of the alignment (32 unless `general.alignment`
/// says otherwise). A string is a u64 byte count and the UTF-8 bytes, no terminator; an array is
/// the element type u32, the count u64 and the elements.
public enum GGUF {
  /// "GGUF" read as a little-endian u32.
  public static let magic: UInt32 = 0x4655_4747
  public static let version: UInt32 = 3
  /// llama.cpp's `GGUF_DEFAULT_ALIGNMENT`.
  public static let defaultAlignment = 32
  /// Elements in one Q8_0 block (ggml's `QK8_0`).
  public static let q8BlockSize = 32
  /// Bytes of one Q8_0 block: a float16 scale and 32 signed bytes.
  public static let q8BlockBytes = 34

  /// The key-value value types of `gguf_type`.
  public enum ValueType: UInt32, Sendable {
    case uint8 = 0, int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64,
      int64, float64
  }

  /// The tensor types this writes, with ggml's `ggml_type` numbers.
  public enum TensorType: UInt32, Sendable, CaseIterable {
    case f32 = 0
    case f16 = 1
    case q8_0 = 8
    case bf16 = 30

    public var name: String {
      switch self {
      case .f32: return "F32"
      case .f16: return "F16"
      case .q8_0: return "Q8_0"
      case .bf16: return "BF16"
      }
    }

    /// Bytes of `count` elements of a row (Q8_0 needs a multiple of 32).
    public func byteCount(elements count: Int) -> Int {
      switch self {
      case .f32: return count * 4
      case .f16, .bf16: return count * 2
      case .q8_0: return count / GGUF.q8BlockSize * GGUF.q8BlockBytes
      }
    }
  }

  /// A key's value.
  public enum Value: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case bool(Bool)
    case string(String)
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)
    case array(Array)

    /// The array types llama.cpp's metadata uses.
    public enum Array: Sendable, Equatable {
      case uint8([UInt8])
      case int32([Int32])
      case uint32([UInt32])
      case float32([Float])
      case bool([Bool])
      case string([String])

      public var count: Int {
        switch self {
        case .uint8(let v): return v.count
        case .int32(let v): return v.count
        case .uint32(let v): return v.count
        case .float32(let v): return v.count
        case .bool(let v): return v.count
        case .string(let v): return v.count
        }
      }
    }

    var type: ValueType {
      switch self {
      case .uint8: return .uint8
      case .int8: return .int8
      case .uint16: return .uint16
      case .int16: return .int16
      case .uint32: return .uint32
      case .int32: return .int32
      case .float32: return .float32
      case .bool: return .bool
      case .string: return .string
      case .uint64: return .uint64
      case .int64: return .int64
      case .float64: return .float64
      case .array: return .array
      }
    }
  }

  /// One key-value pair of the header, in the order written.
  public struct Entry: Sendable, Equatable {
    public let key: String
    public let value: Value
    public init(_ key: String, _ value: Value) {
      self.key = key
      self.value = value
    }
  }

  /// llama.cpp's `llama_ftype` for `general.file_type`: what most tensors are stored as.
  public static func fileType(_ type: TensorType) -> UInt32 {
    switch type {
    case .f32: return 0  // LLAMA_FTYPE_ALL_F32
    case .f16: return 1  // LLAMA_FTYPE_MOSTLY_F16
    case .q8_0: return 7  // LLAMA_FTYPE_MOSTLY_Q8_0
    case .bf16: return 32  // LLAMA_FTYPE_MOSTLY_BF16
    }
  }
}

/// Appends GGUF's little-endian encodings to a byte array.
struct GGUFBytes {
  var bytes: [UInt8] = []

  mutating func append<T: FixedWidthInteger>(_ value: T) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
  }

  mutating func append(_ value: Float) { append(value.bitPattern) }
  mutating func append(_ value: Double) { append(value.bitPattern) }

  mutating func append(_ text: String) {
    append(UInt64(text.utf8.count))
    bytes.append(contentsOf: text.utf8)
  }

  mutating func append(_ value: GGUF.Value) {
    switch value {
    case .uint8(let v): append(v)
    case .int8(let v): append(v)
    case .uint16(let v): append(v)
    case .int16(let v): append(v)
    case .uint32(let v): append(v)
    case .int32(let v): append(v)
    case .float32(let v): append(v)
    case .bool(let v): append(UInt8(v ? 1 : 0))
    case .string(let v): append(v)
    case .uint64(let v): append(v)
    case .int64(let v): append(v)
    case .float64(let v): append(v)
    case .array(let array):
      switch array {
      case .uint8(let v):
        append(GGUF.ValueType.uint8.rawValue)
        append(UInt64(v.count))
        bytes.append(contentsOf: v)
      case .int32(let v):
        append(GGUF.ValueType.int32.rawValue)
        append(UInt64(v.count))
        for x in v { append(x) }
      case .uint32(let v):
        append(GGUF.ValueType.uint32.rawValue)
        append(UInt64(v.count))
        for x in v { append(x) }
      case .float32(let v):
        append(GGUF.ValueType.float32.rawValue)
        append(UInt64(v.count))
        for x in v { append(x) }
      case .bool(let v):
        append(GGUF.ValueType.bool.rawValue)
        append(UInt64(v.count))
        for x in v { append(UInt8(x ? 1 : 0)) }
      case .string(let v):
        append(GGUF.ValueType.string.rawValue)
        append(UInt64(v.count))
        for x in v { append(x) }
      }
    }
  }

  mutating func pad(to alignment: Int) {
    bytes.append(
      contentsOf: repeatElement(0, count: (alignment - bytes.count % alignment) % alignment))
  }
}
