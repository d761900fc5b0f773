import Foundation
import Tensors

/// One tensor to be written to a safetensors file, and where its bytes come from.
///
/// Nothing is encoded or copied when a `WritableTensor` is made: the writer streams each tensor's
/// bytes to the file in chunks, so writing a checkpoint never holds more than one chunk of it in
/// memory beyond what the caller already holds. Copies out of a memory-mapped source release the
/// source's pages as they go.
public struct WritableTensor: @unchecked Sendable {
  public let name: String
  /// The dtype the tensor is stored in.
  public let dtype: DType
  public let shape: [Int]
  public let elementCount: Int

  enum Payload {
    /// Float32 values encoded to `dtype` (F32, F16 or BF16) with round-to-nearest-even.
    case floats(UnsafeBufferPointer<Float>, owner: AnyObject?)
    /// Float32 values made only when the tensor is written, then encoded like `floats`.
    case producer(() throws -> Tensor)
    /// Bytes already in `dtype`, copied as they are.
    case bytes(UnsafeRawBufferPointer, owner: AnyObject?)
    /// A tensor of a memory-mapped file, copied bit-exact (same dtype) or converted.
    case mapped(SafeTensorsFile, TensorInfo)
  }
  let payload: Payload
  /// Whether a copy out of a memory-mapped file checks, as it copies, that every value is
  /// finite (a damaged checkpoint is refused, not copied).
  public private(set) var checksValues = false

  /// Bytes the tensor takes in the file.
  public var byteCount: Int { elementCount * dtype.byteSize }

  init(name: String, dtype: DType, shape: [Int], payload: Payload) throws {
    self.name = name
    self.dtype = dtype
    self.shape = shape
    self.elementCount = try Self.count(name: name, shape: shape)
    self.payload = payload
  }

  /// A Float32 tensor stored as `dtype` (F32, F16 or BF16; rounded to nearest even). The tensor
  /// is kept alive, not copied, until it has been written.
  public init(_ name: String, _ tensor: Tensor, as dtype: DType = .F32) throws {
    try Self.requireFloat(dtype, name: name)
    try self.init(
      name: name, dtype: dtype, shape: tensor.shape,
      payload: .floats(UnsafeBufferPointer(rebasing: tensor.data[0..<tensor.count]), owner: tensor))
    try Self.requireCount(tensor.count, for: self)
  }

  /// Float32 values of shape `shape` stored as `dtype` (F32, F16 or BF16).
  public init(_ name: String, shape: [Int], values: [Float], as dtype: DType = .F32) throws {
    try Self.requireFloat(dtype, name: name)
    let owner = ValuesBox(values)
    try self.init(
      name: name, dtype: dtype, shape: shape,
      payload: .floats(UnsafeBufferPointer(owner.pointer), owner: owner))
    try Self.requireCount(values.count, for: self)
  }

  /// A Float32 tensor computed only when it is written (its shape is checked then), stored as
  /// `dtype`. Lets a caller write a checkpoint holding one computed tensor at a time.
  public init(
    _ name: String, shape: [Int], as dtype: DType = .F32,
    producer: @escaping () throws -> Tensor
  ) throws {
    try Self.requireFloat(dtype, name: name)
    try self.init(name: name, dtype: dtype, shape: shape, payload: .producer(producer))
  }

  /// A bf16 tensor stored as BF16, bit-exact.
  public init(_ name: String, _ tensor: BF16Tensor) throws {
    try self.init(
      name: name, dtype: .BF16, shape: tensor.shape,
      payload: .bytes(
        UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: tensor.data[0..<tensor.count])),
        owner: tensor))
    try Self.requireCount(tensor.count, for: self)
  }

  /// Raw little-endian bytes already in `dtype` (any dtype), copied bit-exact.
  public init(_ name: String, dtype: DType, shape: [Int], bytes: [UInt8]) throws {
    let owner = BytesBox(bytes)
    try self.init(
      name: name, dtype: dtype, shape: shape,
      payload: .bytes(UnsafeRawBufferPointer(owner.pointer), owner: owner))
    guard bytes.count == byteCount else {
      throw CheckpointError.badTensor(
        path: "(output)", tensor: name,
        reason:
          "\(bytes.count) bytes given but dtype \(dtype.rawValue) × shape \(shape) needs \(byteCount)"
      )
    }
  }

  /// Tensor `source` of a memory-mapped safetensors file, written under `name` (default: the same
  /// name). Without `dtype`, or with the source's own dtype, the bytes are copied bit-exact in
  /// whatever dtype the source has; otherwise an F32/F16/BF16 source is converted to `dtype`
  /// (F32, F16 or BF16), rounding to nearest even.
  public init(
    copying source: String, from file: SafeTensorsFile, as name: String? = nil, dtype: DType? = nil
  )
    throws
  {
    let info = try file.info(source)
    let target = dtype ?? info.dtype
    if target != info.dtype {
      try Self.requireFloat(target, name: name ?? source)
      guard info.dtype.isComputable else {
        throw CheckpointError.unsupportedDType(
          path: file.path, tensor: source, dtype: info.dtype.rawValue)
      }
    }
    try self.init(
      name: name ?? source, dtype: target, shape: info.shape, payload: .mapped(file, info))
  }

  /// Tensor `source` of a model folder, copied bit-exact or converted as
  /// `init(copying:from:as:dtype:)` on its file does. `checked`: the tensor must be F32, F16
  /// or BF16 (a model's weights are), refused otherwise, and its values are checked to be
  /// finite in the copy pass.
  public init(
    copying source: String, from folder: ModelFolder, as name: String? = nil, dtype: DType? = nil,
    checked: Bool = false
  )
    throws
  {
    let file = try folder.file(of: source)
    if checked {
      let info = try file.info(source)
      guard info.dtype.isComputable else {
        throw CheckpointError.unsupportedDType(
          path: file.path, tensor: source, dtype: info.dtype.rawValue)
      }
    }
    try self.init(copying: source, from: file, as: name, dtype: dtype)
    checksValues = checked
  }

  static func count(name: String, shape: [Int]) throws -> Int {
    var count = 1
    for dim in shape {
      let (product, overflow) = count.multipliedReportingOverflow(by: dim)
      guard dim >= 0, !overflow, product <= Int.max / 8 else {
        throw CheckpointError.badTensor(
          path: "(output)", tensor: name, reason: "invalid shape \(shape)")
      }
      count = product
    }
    return count
  }

  static func requireFloat(_ dtype: DType, name: String) throws {
    guard dtype == .F32 || dtype == .F16 || dtype == .BF16 else {
      throw CheckpointError.unsupportedDType(path: "(output)", tensor: name, dtype: dtype.rawValue)
    }
  }

  static func requireCount(_ count: Int, for tensor: WritableTensor) throws {
    guard count == tensor.elementCount else {
      throw CheckpointError.badTensor(
        path: "(output)", tensor: tensor.name,
        reason:
          "\(count) values given for shape \(tensor.shape), which holds \(tensor.elementCount)")
    }
  }
}

/// Keeps an array's storage at a stable address for as long as a payload points into it.
final class ValuesBox {
  let pointer: UnsafeMutableBufferPointer<Float>
  init(_ values: [Float]) {
    pointer = .allocate(capacity: values.count)
    _ = pointer.initialize(from: values)
  }
  deinit { pointer.deallocate() }
}

final class BytesBox {
  let pointer: UnsafeMutableRawBufferPointer
  init(_ bytes: [UInt8]) {
    pointer = .allocate(byteCount: bytes.count, alignment: 16)
    bytes.withUnsafeBytes { pointer.copyMemory(from: $0) }
  }
  deinit { pointer.deallocate() }
}
