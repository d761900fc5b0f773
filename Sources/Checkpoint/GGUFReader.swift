import Foundation
import Tensors

/// A GGUF file read back (memory-mapped): its key-value pairs in order, its tensor infos, and
/// each tensor's bytes. Reads what `GGUFWriter` writes (and what llama.cpp's converter writes, for
/// the value and tensor types `GGUF` knows); for checks and tests, not for running a model.
public final class GGUFFile: @unchecked Sendable {
  public struct TensorInfo: Sendable, Equatable {
    public let name: String
    /// Outermost first, as Hugging Face writes shapes (the file's `ne` reversed).
    public let shape: [Int]
    public let type: GGUF.TensorType
    /// From the start of the data section.
    public let offset: Int
    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { type.byteCount(elements: elementCount) }
  }

  public let path: String
  public let version: UInt32
  public let entries: [GGUF.Entry]
  public let tensors: [TensorInfo]
  public let alignment: Int
  /// Where the data section starts.
  public let dataOffset: Int
  let file: MappedFile

  public init(path: String) throws {
    self.path = path
    file = try MappedFile(path: path)
    var reader = Reader(file: file, path: path)
    guard try reader.u32() == GGUF.magic else {
      throw CheckpointError.malformedHeader(path: path, reason: "not a GGUF file (no GGUF magic)")
    }
    version = try reader.u32()
    guard version == 3 else {
      throw CheckpointError.malformedHeader(path: path, reason: "GGUF version \(version), not 3")
    }
    let tensorCount = try reader.count()
    let entryCount = try reader.count()
    var entries: [GGUF.Entry] = []
    for _ in 0..<entryCount {
      let key = try reader.string()
      let type = try reader.u32()
      entries.append(GGUF.Entry(key, try reader.value(type)))
    }
    self.entries = entries
    var alignment = GGUF.defaultAlignment
    if case .uint32(let value)? = entries.first(where: { $0.key == "general.alignment" })?.value {
      alignment = Int(value)
    }
    guard alignment > 0 else {
      throw CheckpointError.malformedHeader(path: path, reason: "general.alignment is 0")
    }
    self.alignment = alignment
    var tensors: [TensorInfo] = []
    for _ in 0..<tensorCount {
      let name = try reader.string()
      let dims = Int(try reader.u32())
      guard dims >= 1, dims <= 4 else {
        throw CheckpointError.malformedHeader(path: path, reason: "tensor \(name) has \(dims) dims")
      }
      var shape: [Int] = []
      for _ in 0..<dims { shape.append(try reader.count()) }
      let raw = try reader.u32()
      guard let type = GGUF.TensorType(rawValue: raw) else {
        throw CheckpointError.malformedHeader(
          path: path, reason: "tensor \(name) has ggml type \(raw), which this does not read")
      }
      tensors.append(
        TensorInfo(name: name, shape: shape.reversed(), type: type, offset: try reader.count()))
    }
    self.tensors = tensors
    dataOffset = (reader.position + alignment - 1) / alignment * alignment
    for tensor in tensors {
      let end = dataOffset + tensor.offset + tensor.byteCount
      guard tensor.offset % alignment == 0, end <= file.size else {
        throw CheckpointError.malformedHeader(
          path: path, reason: "tensor \(tensor.name) lies outside the file or is misaligned")
      }
    }
  }

  /// The value of `key`, if the file has it.
  public subscript(key: String) -> GGUF.Value? {
    entries.first(where: { $0.key == key })?.value
  }

  public func tensor(_ name: String) -> TensorInfo? { tensors.first { $0.name == name } }

  /// The tensor's bytes as stored.
  public func bytes(_ info: TensorInfo) -> UnsafeRawBufferPointer {
    file.bytes((dataOffset + info.offset)..<(dataOffset + info.offset + info.byteCount))
  }

  /// The tensor's values as Float32 (Q8_0 dequantized).
  public func floats(_ info: TensorInfo) -> [Float] {
    let raw = bytes(info)
    switch info.type {
    case .f32:
      return (0..<info.elementCount).map {
        Float(
          bitPattern: UInt32(
            littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
      }
    case .f16:
      return (0..<info.elementCount).map {
        Numerics.float(fromF16: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))
      }
    case .bf16:
      return (0..<info.elementCount).map {
        Numerics.float(fromBF16: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))
      }
    case .q8_0:
      return GGUFWriter.dequantizeQ8(raw)
    }
  }

  struct Reader {
    let file: MappedFile
    let path: String
    var position = 0

    mutating func take(_ count: Int) throws -> UnsafeRawBufferPointer {
      guard count >= 0, count <= file.size - position else {
        throw CheckpointError.malformedHeader(
          path: path, reason: "ends inside the header (at byte \(position))")
      }
      defer { position += count }
      return file.bytes(position..<(position + count))
    }

    mutating func load<T: FixedWidthInteger>(_: T.Type) throws -> T {
      T(littleEndian: try take(MemoryLayout<T>.size).loadUnaligned(as: T.self))
    }

    mutating func u32() throws -> UInt32 { try load(UInt32.self) }

    /// A u64 count that must fit the file.
    mutating func count() throws -> Int {
      let value = try load(UInt64.self)
      guard value <= UInt64(Int.max / 64) else {
        throw CheckpointError.malformedHeader(path: path, reason: "count \(value) is too large")
      }
      return Int(value)
    }

    mutating func string() throws -> String {
      let length = try count()
      return String(decoding: try take(length), as: UTF8.self)
    }

    mutating func value(_ raw: UInt32) throws -> GGUF.Value {
      guard let type = GGUF.ValueType(rawValue: raw) else {
        throw CheckpointError.malformedHeader(path: path, reason: "value type \(raw) is unknown")
      }
      switch type {
      case .uint8: return .uint8(try load(UInt8.self))
      case .int8: return .int8(try load(Int8.self))
      case .uint16: return .uint16(try load(UInt16.self))
      case .int16: return .int16(try load(Int16.self))
      case .uint32: return .uint32(try load(UInt32.self))
      case .int32: return .int32(try load(Int32.self))
      case .float32: return .float32(Float(bitPattern: try load(UInt32.self)))
      case .bool: return .bool(try load(UInt8.self) != 0)
      case .string: return .string(try string())
      case .uint64: return .uint64(try load(UInt64.self))
      case .int64: return .int64(try load(Int64.self))
      case .float64: return .float64(Double(bitPattern: try load(UInt64.self)))
      case .array:
        let elementType = try u32()
        let count = try count()
        switch GGUF.ValueType(rawValue: elementType) {
        case .uint8?: return .array(.uint8(Array(try take(count))))
        case .int32?: return .array(.int32(try (0..<count).map { _ in try load(Int32.self) }))
        case .uint32?: return .array(.uint32(try (0..<count).map { _ in try load(UInt32.self) }))
        case .float32?:
          return .array(
            .float32(try (0..<count).map { _ in Float(bitPattern: try load(UInt32.self)) }))
        case .bool?: return .array(.bool(try (0..<count).map { _ in try load(UInt8.self) != 0 }))
        case .string?: return .array(.string(try (0..<count).map { _ in try string() }))
        default:
          throw CheckpointError.malformedHeader(
            path: path, reason: "arrays of value type \(elementType) are not read here")
        }
      }
    }
  }
}
