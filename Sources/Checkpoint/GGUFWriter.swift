import Foundation
import Tensors

#if canImport(Glibc)
  import Glibc
#endif

/// One tensor to be written to a GGUF file: its llama.cpp name, its shape as Hugging Face writes
/// it (outermost first; the file stores it reversed, innermost first, as ggml's `ne`), the type it
/// is stored as, and a producer that makes its Float32 values (row-major) only when it is written,
/// so that a file is written holding one tensor at a time.
public struct GGUFTensor: @unchecked Sendable {
  public let name: String
  public let shape: [Int]
  public let type: GGUF.TensorType
  public let elementCount: Int
  let produce: () throws -> Tensor

  public init(
    _ name: String, shape: [Int], type: GGUF.TensorType, producer: @escaping () throws -> Tensor
  ) throws {
    guard !name.isEmpty, name.utf8.count < 64 else {
      // llama.cpp's GGML_MAX_NAME is 64 bytes with the terminator.
      throw CheckpointError.badTensor(
        path: "(gguf)", tensor: name, reason: "a GGUF tensor name must have 1 to 63 bytes")
    }
    guard !shape.isEmpty, shape.count <= 4 else {
      throw CheckpointError.badTensor(
        path: "(gguf)", tensor: name, reason: "ggml tensors have 1 to 4 dimensions, not \(shape)")
    }
    if type == .q8_0, shape.last! % GGUF.q8BlockSize != 0 {
      throw CheckpointError.badTensor(
        path: "(gguf)", tensor: name,
        reason: "Q8_0 needs rows of a multiple of 32 elements; rows here have \(shape.last!)")
    }
    self.name = name
    self.shape = shape
    self.type = type
    self.elementCount = try WritableTensor.count(name: name, shape: shape)
    self.produce = producer
  }

  /// Bytes the tensor takes in the file (padding excluded).
  public var byteCount: Int { type.byteCount(elements: elementCount) }
}

/// Writes GGUF files (`GGUF` describes the layout), streamed one tensor at a time and atomically:
/// into a temporary file beside the target, renamed over it only when complete, removed on failure.
public enum GGUFWriter {
  /// Values are encoded this many at a time (a multiple of the Q8_0 block).
  static let chunkElements = 1 << 20

  /// Tensor data offsets (from the start of the data section) for `tensors` in order.
  public static func offsets(_ tensors: [GGUFTensor], alignment: Int = GGUF.defaultAlignment)
    -> [Int]
  {
    var offsets: [Int] = []
    var offset = 0
    for tensor in tensors {
      offsets.append(offset)
      offset += tensor.byteCount
      offset += (alignment - offset % alignment) % alignment
    }
    return offsets
  }

  /// Everything before the data section: header, key-value pairs, tensor infos, padding.
  public static func header(
    _ entries: [GGUF.Entry], tensors: [GGUFTensor], alignment: Int = GGUF.defaultAlignment,
    path: String = "(gguf)"
  ) throws -> [UInt8] {
    var keys = Set<String>()
    for entry in entries where !keys.insert(entry.key).inserted {
      throw CheckpointError.writeFailed(path: path, reason: "metadata key \(entry.key) given twice")
    }
    var names = Set<String>()
    for tensor in tensors where !names.insert(tensor.name).inserted {
      throw CheckpointError.badTensor(path: path, tensor: tensor.name, reason: "is given twice")
    }
    guard alignment > 0, alignment % 8 == 0 else {
      throw CheckpointError.writeFailed(
        path: path, reason: "the alignment must be a positive multiple of 8, not \(alignment)")
    }
    if alignment != GGUF.defaultAlignment {
      guard entries.contains(where: { $0.key == "general.alignment" }) else {
        throw CheckpointError.writeFailed(
          path: path, reason: "alignment \(alignment) needs a general.alignment entry")
      }
    }
    var out = GGUFBytes()
    out.append(GGUF.magic)
    out.append(GGUF.version)
    out.append(UInt64(tensors.count))
    out.append(UInt64(entries.count))
    for entry in entries {
      out.append(entry.key)
      out.append(entry.value.type.rawValue)
      out.append(entry.value)
    }
    for (tensor, offset) in zip(tensors, offsets(tensors, alignment: alignment)) {
      out.append(tensor.name)
      out.append(UInt32(tensor.shape.count))
      for dim in tensor.shape.reversed() { out.append(UInt64(dim)) }
      out.append(tensor.type.rawValue)
      out.append(UInt64(offset))
    }
    out.pad(to: alignment)
    return out.bytes
  }

  /// Size of the file `write` makes.
  public static func fileSize(
    _ entries: [GGUF.Entry], tensors: [GGUFTensor], alignment: Int = GGUF.defaultAlignment
  ) throws -> Int {
    let head = try header(entries, tensors: tensors, alignment: alignment).count
    guard let last = tensors.last else { return head }
    let end = offsets(tensors, alignment: alignment).last! + last.byteCount
    // Every tensor is padded to the alignment, the last one included (as gguf-py writes).
    return head + (end + alignment - 1) / alignment * alignment
  }

  /// Writes the file at `path` through `AtomicFile` (a temporary sibling renamed into place;
  /// removed on any error or interrupt, `path` left as it was). Each tensor is produced,
  /// encoded and written in turn, then released. `progress` gets the tensor bytes written so
  /// far and their total, after each tensor.
  public static func write(
    _ entries: [GGUF.Entry], tensors: [GGUFTensor], to path: String,
    alignment: Int = GGUF.defaultAlignment,
    progress: ((_ written: Int, _ total: Int, _ tensor: String) -> Void)? = nil
  ) throws {
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
      throw CheckpointError.outputRefused(path: path, reason: "it is a folder, not a file")
    }
    let url = URL(fileURLWithPath: path).standardizedFileURL
    try OutputPolicy.checkNode(url, isFolder: false)
    let file = try StagedFile(checked: url)
    defer { file.discard() }
    try write(entries, tensors: tensors, into: file, alignment: alignment, progress: progress)
    try file.commit()
  }

  /// Writes the file into `file`, which the caller commits (alone or with a run's other
  /// outputs); errors name `file`'s target.
  public static func write(
    _ entries: [GGUF.Entry], tensors: [GGUFTensor], into file: StagedFile,
    alignment: Int = GGUF.defaultAlignment,
    progress: ((_ written: Int, _ total: Int, _ tensor: String) -> Void)? = nil
  ) throws {
    let path = file.target.path
    let head = try header(entries, tensors: tensors, alignment: alignment, path: path)
    let total = tensors.reduce(0) { $0 + $1.byteCount }
    try file.write { sink in
      try head.withUnsafeBytes { try sink($0) }
      var position = 0
      var written = 0
      let zeros = [UInt8](repeating: 0, count: alignment)
      for tensor in tensors {
        let values = try tensor.produce()
        guard values.shape.reduce(1, *) == tensor.elementCount else {
          throw CheckpointError.badTensor(
            path: path, tensor: tensor.name,
            reason: "was declared with shape \(tensor.shape) but made with shape \(values.shape)")
        }
        try withExtendedLifetime(values) {
          try encode(
            UnsafeBufferPointer(rebasing: values.data[0..<values.count]), as: tensor.type,
            into: sink)
        }
        position += tensor.byteCount
        let padding = (alignment - position % alignment) % alignment
        try zeros.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<padding])) }
        position += padding
        written += tensor.byteCount
        progress?(written, total, tensor.name)
      }
    }
  }

  /// Hands `sink` the bytes of `values` stored as `type`, a chunk at a time.
  public static func encode(
    _ values: UnsafeBufferPointer<Float>, as type: GGUF.TensorType,
    into sink: (UnsafeRawBufferPointer) throws -> Void
  ) throws {
    switch type {
    case .f32:
      try sink(UnsafeRawBufferPointer(values))
    case .f16:
      try SafeTensorsWriter.streamFloats(values, as: .F16, into: sink)
    case .bf16:
      try SafeTensorsWriter.streamFloats(values, as: .BF16, into: sink)
    case .q8_0:
      let blocksPerChunk = chunkElements / GGUF.q8BlockSize
      let scratch = UnsafeMutableRawBufferPointer.allocate(
        byteCount: blocksPerChunk * GGUF.q8BlockBytes, alignment: 16)
      defer { scratch.deallocate() }
      var start = 0
      while start < values.count {
        let count = min(chunkElements, values.count - start)
        let blocks = count / GGUF.q8BlockSize
        let source = values.baseAddress! + start
        let target = scratch.baseAddress!
        Parallel.chunks(blocks, grain: 1 << 10) { range in
          for block in range {
            quantizeQ8(source + block * GGUF.q8BlockSize, into: target + block * GGUF.q8BlockBytes)
          }
        }
        try sink(UnsafeRawBufferPointer(rebasing: scratch[0..<(blocks * GGUF.q8BlockBytes)]))
        start += count
      }
    }
  }

  /// One Q8_0 block as ggml's `quantize_row_q8_0_ref` makes it: `d = max|x| / 127` (stored as
  /// float16), `q = roundf(x · (1/d))` (halves away from zero; 0 when d is 0).
  @inline(__always)
  static func quantizeQ8(_ x: UnsafePointer<Float>, into out: UnsafeMutableRawPointer) {
    var amax: Float = 0
    for j in 0..<GGUF.q8BlockSize { amax = max(amax, abs(x[j])) }
    let d = amax / 127
    let id: Float = d != 0 ? 1 / d : 0
    out.storeBytes(of: Numerics.f16(from: d).littleEndian, as: UInt16.self)
    let q = (out + 2).assumingMemoryBound(to: Int8.self)
    for j in 0..<GGUF.q8BlockSize {
      q[j] = Int8(truncatingIfNeeded: Int32((x[j] * id).rounded(.toNearestOrAwayFromZero)))
    }
  }

  /// Float32 values of Q8_0 blocks (ggml's `dequantize_row_q8_0`): `d · q`.
  public static func dequantizeQ8(_ bytes: UnsafeRawBufferPointer) -> [Float] {
    let blocks = bytes.count / GGUF.q8BlockBytes
    var out = [Float](repeating: 0, count: blocks * GGUF.q8BlockSize)
    for block in 0..<blocks {
      let base = block * GGUF.q8BlockBytes
      let d = Numerics.float(
        fromF16: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: base, as: UInt16.self)))
      for j in 0..<GGUF.q8BlockSize {
        let q = Int8(bitPattern: bytes[base + 2 + j])
        out[block * GGUF.q8BlockSize + j] = d * Float(q)
      }
    }
    return out
  }
}
