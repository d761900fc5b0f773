import Tensors

/// Scratch buffers of one forward: slots of the caller's workspace when it gives one (one
/// forward at a time per workspace), fresh tensors otherwise. A block's slots are free again
/// once it returns, so consecutive blocks reuse the same numbers.
struct Scratch {
  let workspace: Workspace?

  func callAsFunction(_ slot: Int, _ shape: [Int]) -> Tensor {
    workspace?.tensor(slot, shape) ?? Tensor(uninitialized: shape)
  }
}
