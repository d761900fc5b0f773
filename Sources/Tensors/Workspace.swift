/// Scratch buffers reused from one layer to the next.
///
/// Activation temporaries are tens of megabytes, which the allocator serves from fresh memory
/// maps: every layer would fault in (and the kernel zero) the same amount of memory again.
/// A workspace keeps one grow-only buffer per slot instead. Not for concurrent use.
public final class Workspace: @unchecked Sendable {
  var slots: [Int: Tensor] = [:]

  public init() {}

  /// A tensor of `shape` over slot `slot`'s buffer, valid until the slot is asked for again.
  public func tensor(_ slot: Int, _ shape: [Int]) -> Tensor {
    let count = shape.reduce(1, *)
    if let buffer = slots[slot], buffer.data.count >= count {
      return Tensor(viewing: buffer, shape: shape)
    }
    let buffer = Tensor(uninitialized: [count])
    slots[slot] = buffer
    return Tensor(viewing: buffer, shape: shape)
  }
}
