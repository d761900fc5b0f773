import Foundation
import Tensors

/// Where one tensor lies in a safetensors file.
public struct TensorInfo: Sendable, Equatable {
  public let name: String
  public let dtype: DType
  public let shape: [Int]
  /// Byte range inside the file (header included), already checked to lie inside it.
  public let byteRange: Range<Int>

  public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file, memory-mapped, with a header parsed strictly: a file crafted to point
/// outside itself, overlap tensors or lie about sizes is rejected before any tensor is read.
public final class SafeTensorsFile: @unchecked Sendable {
  /// The largest header accepted, as in the reference Rust implementation.
  public static let maximumHeaderSize = 100_000_000

  public let path: String
  public let tensors: [String: TensorInfo]
  public let metadata: [String: String]
  public let file: MappedFile

  public init(path: String) throws {
    if PickleGuard.isPickle(path: path) { throw CheckpointError.pickleRefused(path: path) }
    file = try MappedFile(path: path)
    self.path = path
    (tensors, metadata) = try Self.parseHeader(file)
  }

  public var names: [String] { tensors.keys.sorted() }

  public func info(_ name: String) throws -> TensorInfo {
    guard let info = tensors[name] else {
      throw CheckpointError.missingTensor(tensor: name, folder: path)
    }
    return info
  }

  /// The raw bytes of a tensor, valid while this file is alive.
  public func bytes(_ name: String) throws -> UnsafeRawBufferPointer {
    file.bytes(try info(name).byteRange)
  }

  /// Releases a tensor's pages from memory after it has been converted.
  public func release(_ name: String) {
    if let info = tensors[name] { file.release(info.byteRange) }
  }

  static func parseHeader(_ file: MappedFile) throws -> ([String: TensorInfo], [String: String]) {
    let path = file.path
    func fail(_ reason: String) -> CheckpointError {
      .malformedHeader(path: path, reason: reason)
    }
    guard file.size >= 8 else {
      throw fail("file is \(file.size) bytes, shorter than the 8-byte header length")
    }
    let lengthBytes = file.bytes(0..<8)
    var headerLength = 0
    for i in (0..<8).reversed() { headerLength = headerLength << 8 | Int(lengthBytes[i]) }
    guard lengthBytes[7] < 0x80, headerLength <= maximumHeaderSize else {
      throw fail(
        "header length \(UInt64(littleEndian: lengthBytes.loadUnaligned(as: UInt64.self))) exceeds the \(maximumHeaderSize)-byte limit"
      )
    }
    guard headerLength >= 2 else { throw fail("header length \(headerLength) is too small") }
    guard 8 + headerLength <= file.size else {
      throw fail(
        "header of \(headerLength) bytes runs past the end of the \(file.size)-byte file (truncated?)"
      )
    }
    let headerData = Data(file.bytes(8..<(8 + headerLength)))
    let json: Any
    do {
      json = try JSONSerialization.jsonObject(with: headerData)
    } catch {
      throw fail("header is not valid JSON")
    }
    guard let object = json as? [String: Any] else { throw fail("header is not a JSON object") }

    let dataStart = 8 + headerLength
    var tensors: [String: TensorInfo] = [:]
    var metadata: [String: String] = [:]
    for (name, value) in object {
      if name == "__metadata__" {
        guard let entries = value as? [String: Any] else {
          throw fail("__metadata__ is not an object of strings")
        }
        for (key, entry) in entries {
          guard let text = entry as? String else {
            throw fail("__metadata__ entry \(key) is not a string")
          }
          metadata[key] = text
        }
        continue
      }
      func bad(_ reason: String) -> CheckpointError {
        .badTensor(path: path, tensor: name, reason: reason)
      }
      guard let entry = value as? [String: Any] else { throw bad("entry is not an object") }
      guard let dtypeName = entry["dtype"] as? String else { throw bad("no dtype") }
      guard let dtype = DType(rawValue: dtypeName) else {
        throw bad("unknown dtype \(dtypeName)")
      }
      guard let shape = integers(entry["shape"]) else {
        throw bad("shape is not a list of non-negative integers")
      }
      guard let offsets = integers(entry["data_offsets"]), offsets.count == 2 else {
        throw bad("data_offsets is not a pair of non-negative integers")
      }
      var elements = 1
      for dim in shape {
        let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
        guard !overflow, product <= Int(Int32.max) * 64 else {
          throw bad("shape \(shape) is too large")
        }
        elements = product
      }
      let expected = elements * dtype.byteSize
      guard offsets[0] <= offsets[1] else {
        throw bad("data_offsets \(offsets) run backwards")
      }
      guard offsets[1] - offsets[0] == expected else {
        throw bad(
          "holds \(offsets[1] - offsets[0]) bytes but dtype \(dtypeName) × shape \(shape) needs \(expected)"
        )
      }
      guard offsets[1] <= file.size - dataStart else {
        throw bad(
          "data_offsets \(offsets) lie outside the file's \(file.size - dataStart)-byte data section (truncated?)"
        )
      }
      tensors[name] = TensorInfo(
        name: name, dtype: dtype, shape: shape,
        byteRange: (dataStart + offsets[0])..<(dataStart + offsets[1]))
    }

    // Tensors must tile the data section exactly, as the reference implementation requires:
    // no overlaps (two names aliasing the same bytes) and no hidden gaps.
    var cursor = dataStart
    for info in tensors.values.sorted(by: {
      ($0.byteRange.lowerBound, $0.byteRange.upperBound, $0.name) < (
        $1.byteRange.lowerBound, $1.byteRange.upperBound, $1.name
      )
    }) {
      if info.byteRange.lowerBound < cursor {
        throw CheckpointError.badTensor(
          path: path, tensor: info.name, reason: "its bytes overlap another tensor's")
      }
      if info.byteRange.lowerBound > cursor {
        throw CheckpointError.badTensor(
          path: path, tensor: info.name,
          reason: "there is a gap of \(info.byteRange.lowerBound - cursor) bytes before it")
      }
      cursor = info.byteRange.upperBound
    }
    guard cursor == file.size else {
      throw fail("\(file.size - cursor) bytes after the last tensor belong to no tensor")
    }
    return (tensors, metadata)
  }
}

private func integers(_ value: Any?) -> [Int]? {
  guard let list = value as? [Any] else { return nil }
  var out: [Int] = []
  for item in list {
    // JSONSerialization yields NSNumber; reject booleans ("c"), any number written with a
    // fraction or exponent ("d", even 1.0, as the Rust reference does) and negatives.
    guard let number = item as? NSNumber,
      !["c", "d", "f"].contains(String(cString: number.objCType))
    else {
      return nil
    }
    let double = number.doubleValue
    guard double >= 0, double == double.rounded(), double < 9.0e15 else { return nil }
    out.append(number.intValue)
  }
  return out
}
