import Foundation
import Tensors

#if canImport(Glibc)
  import Glibc
#endif

/// Writes safetensors files byte-for-byte as Python's `safetensors` library (0.4 – 0.8) does.
///
/// Layout: an 8-byte little-endian header length; the header, compact JSON (no spaces) with
/// `__metadata__` first and then one entry per tensor, `{"dtype":…,"shape":[…],"data_offsets":[b,e]}`,
/// padded with spaces to a multiple of 8 bytes; then the tensors' bytes, contiguous, in header
/// order. The order is the Rust library's `prepare`: by dtype in *descending* order of its `Dtype`
/// enum (U64, I64, F64, F32, U32, I32, BF16, F16, U16, I16, F8_E4M3, F8_E5M2, I8, U8, BOOL), then
/// by name in byte order. JSON strings are escaped as `serde_json` escapes them (`\"`, `\\`,
/// `\b \f \n \r \t`, other control characters as `\u00xx`, everything else verbatim UTF-8).
/// `__metadata__` keys are written in byte order (Python leaves the order of several keys to a
/// hash map; with the usual single `format` key the bytes are identical).
///
/// So `SafeTensorsWriter.write(tensors, to: path)` gives the same bytes as
/// `safetensors.torch.save_file(tensors, path, metadata={"format": "pt"})` for the same names,
/// dtypes, shapes and values, which is what `save_pretrained` writes.
public enum SafeTensorsWriter {
  /// The metadata `transformers`' `save_pretrained` puts in every file.
  public static let pytorchMetadata: [String: String] = ["format": "pt"]

  /// Tensor bytes are produced and written this many elements at a time.
  static let chunkElements = 1 << 20
  /// Bytes copied at a time out of a memory-mapped source, whose pages are released after.
  static let copyChunkBytes = 16 << 20

  /// Position of a dtype in the Rust library's `Dtype` enum, whose derived order sorts tensors.
  static func rank(_ dtype: DType) -> Int {
    switch dtype {
    case .BOOL: return 0
    case .U8: return 1
    case .I8: return 2
    case .F8_E5M2: return 3
    case .F8_E4M3: return 4
    case .I16: return 5
    case .U16: return 6
    case .F16: return 7
    case .BF16: return 8
    case .I32: return 9
    case .U32: return 10
    case .F32: return 11
    case .F64: return 12
    case .I64: return 13
    case .U64: return 14
    }
  }

  /// The tensors in the order they are laid out in the file.
  public static func ordered(_ tensors: [WritableTensor]) -> [WritableTensor] {
    tensors.sorted { a, b in
      let (ra, rb) = (rank(a.dtype), rank(b.dtype))
      if ra != rb { return ra > rb }
      return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
    }
  }

  /// The first bytes of the file: header length and padded JSON header, for `tensors` (in any
  /// order; they are laid out as `ordered` puts them).
  public static func header(
    for tensors: [WritableTensor], metadata: [String: String]? = pytorchMetadata,
    path: String = "(output)"
  ) throws -> [UInt8] {
    var seen = Set<String>()
    for tensor in tensors {
      guard tensor.name != "__metadata__" else {
        throw CheckpointError.badTensor(
          path: path, tensor: tensor.name, reason: "the name __metadata__ is reserved by the format"
        )
      }
      guard seen.insert(tensor.name).inserted else {
        throw CheckpointError.badTensor(path: path, tensor: tensor.name, reason: "is given twice")
      }
    }
    var json: [UInt8] = [UInt8(ascii: "{")]
    var first = true
    func separator() {
      if !first { json.append(UInt8(ascii: ",")) }
      first = false
    }
    if let metadata {
      separator()
      appendJSONString("__metadata__", to: &json)
      json.append(contentsOf: ":{".utf8)
      let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
      for (i, key) in keys.enumerated() {
        if i > 0 { json.append(UInt8(ascii: ",")) }
        appendJSONString(key, to: &json)
        json.append(UInt8(ascii: ":"))
        appendJSONString(metadata[key]!, to: &json)
      }
      json.append(UInt8(ascii: "}"))
    }
    var offset = 0
    for tensor in ordered(tensors) {
      separator()
      appendJSONString(tensor.name, to: &json)
      json.append(contentsOf: ":{\"dtype\":".utf8)
      appendJSONString(tensor.dtype.rawValue, to: &json)
      json.append(contentsOf: ",\"shape\":[".utf8)
      json.append(contentsOf: tensor.shape.map(String.init).joined(separator: ",").utf8)
      let end = offset + tensor.byteCount
      json.append(contentsOf: "],\"data_offsets\":[\(offset),\(end)]}".utf8)
      offset = end
    }
    json.append(UInt8(ascii: "}"))
    json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
    var out: [UInt8] = []
    out.reserveCapacity(8 + json.count)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: json)
    return out
  }

  /// Size of the file `write` makes for `tensors`.
  public static func fileSize(
    for tensors: [WritableTensor], metadata: [String: String]? = pytorchMetadata
  ) throws -> Int {
    try header(for: tensors, metadata: metadata).count + tensors.reduce(0) { $0 + $1.byteCount }
  }

  /// Writes `tensors` to a new file at `path`, streaming each tensor's bytes. On any error the
  /// partial file is removed. `progress`, when given, is called after each chunk with the tensor
  /// bytes written so far and their total.
  public static func write(
    _ tensors: [WritableTensor], to path: String, metadata: [String: String]? = pytorchMetadata,
    progress: ((_ written: Int, _ total: Int) -> Void)? = nil
  ) throws {
    let head = try header(for: tensors, metadata: metadata, path: path)
    try refuseOverwritingASource(tensors, path: path)
    let total = tensors.reduce(0) { $0 + $1.byteCount }
    var written = 0
    let out = try OutputFile(path: path)
    do {
      try head.withUnsafeBytes { try out.write($0) }
      for tensor in ordered(tensors) {
        try stream(tensor, path: path) {
          try out.write($0)
          written += $0.count
          progress?(written, total)
        }
      }
      try out.finish()
    } catch {
      out.abandon()
      throw error
    }
  }

  /// Truncating a file that a tensor is being copied from would pull the pages out from under
  /// the copy (SIGBUS), so that is an error.
  static func refuseOverwritingASource(_ tensors: [WritableTensor], path: String) throws {
    var target = stat()
    guard stat(path, &target) == 0 else { return }
    for tensor in tensors {
      guard case .mapped(let file, _) = tensor.payload else { continue }
      var source = stat()
      if stat(file.path, &source) == 0 && source.st_dev == target.st_dev
        && source.st_ino == target.st_ino
      {
        throw CheckpointError.writeFailed(
          path: path,
          reason: "tensor \(tensor.name) is being copied from this very file; write elsewhere")
      }
    }
  }

  /// The whole file in memory; for small files and tests.
  public static func serialize(
    _ tensors: [WritableTensor], metadata: [String: String]? = pytorchMetadata
  ) throws -> [UInt8] {
    var out = try header(for: tensors, metadata: metadata)
    for tensor in ordered(tensors) {
      try stream(tensor, path: "(memory)") { out.append(contentsOf: $0) }
    }
    return out
  }

  /// Hands `sink` the tensor's bytes in the file's dtype, one chunk at a time.
  static func stream(
    _ tensor: WritableTensor, path: String, into sink: (UnsafeRawBufferPointer) throws -> Void
  ) throws {
    switch tensor.payload {
    case .floats(let values, _):
      try streamFloats(values, as: tensor.dtype, into: sink)
    case .producer(let make):
      let made = try make()
      guard made.shape == tensor.shape else {
        throw CheckpointError.badTensor(
          path: path, tensor: tensor.name,
          reason: "was declared with shape \(tensor.shape) but computed with shape \(made.shape)")
      }
      try withExtendedLifetime(made) {
        try streamFloats(
          UnsafeBufferPointer(rebasing: made.data[0..<made.count]), as: tensor.dtype, into: sink)
      }
    case .bytes(let bytes, _):
      try sink(bytes)
    case .mapped(let file, let info):
      let mapped = file.file
      if info.dtype == tensor.dtype {
        var start = info.byteRange.lowerBound
        while start < info.byteRange.upperBound {
          let end = min(start + copyChunkBytes, info.byteRange.upperBound)
          if tensor.checksValues, !Convert.allFinite(mapped.bytes(start..<end), dtype: info.dtype) {
            throw CheckpointError.nonFinite(path: file.path, tensor: info.name)
          }
          try sink(mapped.bytes(start..<end))
          mapped.release(start..<end)
          start = end
        }
      } else {
        let size = info.dtype.byteSize
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: chunkElements)
        defer { scratch.deallocate() }
        var element = 0
        while element < info.elementCount {
          let count = min(chunkElements, info.elementCount - element)
          let first = info.byteRange.lowerBound + element * size
          let range = first..<(first + count * size)
          let finite = Convert.toFloat(
            mapped.bytes(range), dtype: info.dtype, into: scratch.baseAddress!)
          mapped.release(range)
          if tensor.checksValues && !finite {
            throw CheckpointError.nonFinite(path: file.path, tensor: info.name)
          }
          try streamFloats(
            UnsafeBufferPointer(rebasing: scratch[0..<count]), as: tensor.dtype, into: sink)
          element += count
        }
      }
    }
  }

  static func streamFloats(
    _ values: UnsafeBufferPointer<Float>, as dtype: DType,
    into sink: (UnsafeRawBufferPointer) throws -> Void
  ) throws {
    if dtype == .F32 {
      try sink(UnsafeRawBufferPointer(values))
      return
    }
    let scratch = UnsafeMutableBufferPointer<UInt16>.allocate(
      capacity: min(chunkElements, values.count))
    defer { scratch.deallocate() }
    var start = 0
    while start < values.count {
      let count = min(chunkElements, values.count - start)
      let source = values.baseAddress! + start
      let target = scratch.baseAddress!
      Parallel.chunks(count, grain: 1 << 16) { range in
        if dtype == .BF16 {
          for i in range { target[i] = Numerics.bf16(from: source[i]).littleEndian }
        } else {
          for i in range { target[i] = Numerics.f16(from: source[i]).littleEndian }
        }
      }
      try sink(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: scratch[0..<count])))
      start += count
    }
  }
}

/// Appends `text` as a JSON string escaped the way `serde_json` escapes it.
func appendJSONString(_ text: String, to out: inout [UInt8]) {
  out.append(UInt8(ascii: "\""))
  for byte in text.utf8 {
    switch byte {
    case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
    case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
    case 0x08: out.append(contentsOf: "\\b".utf8)
    case 0x0C: out.append(contentsOf: "\\f".utf8)
    case 0x0A: out.append(contentsOf: "\\n".utf8)
    case 0x0D: out.append(contentsOf: "\\r".utf8)
    case 0x09: out.append(contentsOf: "\\t".utf8)
    case 0..<0x20:
      let hex = Array("0123456789abcdef".utf8)
      out.append(contentsOf: "\\u00".utf8)
      out.append(hex[Int(byte >> 4)])
      out.append(hex[Int(byte & 15)])
    default: out.append(byte)
    }
  }
  out.append(UInt8(ascii: "\""))
}

private func posixWrite(_ fd: Int32, _ base: UnsafeRawPointer, _ count: Int) -> Int {
  write(fd, base, count)
}

/// A file being written: buffered POSIX writes, `fsync` before close so that a folder renamed into
/// place afterwards never holds a file whose data is not on disk.
final class OutputFile {
  let path: String
  private var fd: Int32
  private let buffer: UnsafeMutableRawBufferPointer
  private var used = 0

  init(path: String) throws {
    self.path = path
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw CheckpointError.writeFailed(path: path, reason: FileSystemReason.words(errno))
    }
    // Allocated so that a failure (a memory limit) is an error, not a trap.
    guard let memory = malloc(8 << 20) else {
      close(fd)
      unlink(path)
      throw CheckpointError.writeFailed(path: path, reason: FileSystemReason.words(ENOMEM))
    }
    buffer = UnsafeMutableRawBufferPointer(start: memory, count: 8 << 20)
  }

  deinit {
    free(buffer.baseAddress)
    if fd >= 0 { close(fd) }
  }

  func write(_ bytes: UnsafeRawBufferPointer) throws {
    guard bytes.count > 0, let base = bytes.baseAddress else { return }
    if used + bytes.count <= buffer.count {
      (buffer.baseAddress! + used).copyMemory(from: base, byteCount: bytes.count)
      used += bytes.count
      return
    }
    try flush()
    if bytes.count >= buffer.count / 2 {
      try writeAll(base, bytes.count)
    } else {
      buffer.baseAddress!.copyMemory(from: base, byteCount: bytes.count)
      used = bytes.count
    }
  }

  func flush() throws {
    if used > 0 { try writeAll(UnsafeRawPointer(buffer.baseAddress!), used) }
    used = 0
  }

  private func writeAll(_ base: UnsafeRawPointer, _ count: Int) throws {
    var done = 0
    while done < count {
      let n = posixWrite(fd, base + done, count - done)
      if n < 0 {
        if errno == EINTR { continue }
        throw CheckpointError.writeFailed(path: path, reason: FileSystemReason.words(errno))
      }
      done += n
    }
  }

  /// Flushes, syncs and closes the file.
  func finish() throws {
    try flush()
    guard fsync(fd) == 0 else {
      throw CheckpointError.writeFailed(path: path, reason: FileSystemReason.words(errno))
    }
    let result = close(fd)
    fd = -1
    guard result == 0 else {
      throw CheckpointError.writeFailed(path: path, reason: FileSystemReason.words(errno))
    }
  }

  /// Closes and removes the partial file.
  func abandon() {
    if fd >= 0 { close(fd) }
    fd = -1
    unlink(path)
  }
}
