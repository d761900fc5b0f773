/// A dense row-major Float32 tensor that owns its storage.
///
/// A class, not a struct: activations of a large model are hundreds of megabytes, and a
/// copy-on-write value type would copy them at the first mutation through a second reference.
public final class Tensor: @unchecked Sendable {
  public let shape: [Int]
  public let count: Int
  public let data: UnsafeMutableBufferPointer<Float>
  /// The tensor whose storage this one views; nil when it owns its storage.
  let base: Tensor?

  /// A tensor of zeros.
  public init(zeros shape: [Int]) {
    self.shape = shape
    self.count = shape.reduce(1, *)
    self.data = .allocate(capacity: max(count, 1))
    base = nil
    data.initialize(repeating: 0)
  }

  /// A tensor whose contents the caller fills in before reading (Float is a trivial type, so
  /// skipping the zero fill is safe and saves a pass over memory).
  public init(uninitialized shape: [Int]) {
    self.shape = shape
    self.count = shape.reduce(1, *)
    self.data = .allocate(capacity: max(count, 1))
    base = nil
  }

  /// The first elements of `base`'s storage seen with `shape` (no copy; `base` stays alive).
  public init(viewing base: Tensor, shape: [Int]) {
    self.shape = shape
    self.count = shape.reduce(1, *)
    precondition(count <= base.data.count, "a view of \(shape) does not fit in \(base.shape)")
    self.data = UnsafeMutableBufferPointer(start: base.pointer, count: max(count, 1))
    self.base = base
  }

  public convenience init(shape: [Int], values: [Float]) {
    precondition(shape.reduce(1, *) == values.count, "shape \(shape) needs \(values.count) values")
    self.init(uninitialized: shape)
    _ = data.initialize(from: values)
  }

  deinit { if base == nil { data.deallocate() } }

  public var pointer: UnsafeMutablePointer<Float> { data.baseAddress! }

  /// Number of rows when the tensor is read as a matrix whose last dimension is the row length.
  public var rows: Int { shape.count <= 1 ? 1 : count / shape[shape.count - 1] }
  public var columns: Int { shape.last ?? 1 }

  public func toArray() -> [Float] { Array(data[0..<count]) }

  public func copy() -> Tensor {
    let out = Tensor(uninitialized: shape)
    out.pointer.update(from: pointer, count: count)
    return out
  }

  /// Row `r` of the tensor read as a matrix.
  public func row(_ r: Int) -> UnsafeMutablePointer<Float> { pointer + r * columns }
}

/// Weights stored as bfloat16 (the upper half of a Float32), as checkpoints and the bf16
/// matrix products use them.
public final class BF16Tensor: @unchecked Sendable {
  public let shape: [Int]
  public let count: Int
  public let data: UnsafeMutableBufferPointer<UInt16>

  public init(uninitialized shape: [Int]) {
    self.shape = shape
    self.count = shape.reduce(1, *)
    self.data = .allocate(capacity: max(count, 1))
  }

  deinit { data.deallocate() }

  public var pointer: UnsafeMutablePointer<UInt16> { data.baseAddress! }
}
