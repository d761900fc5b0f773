import Tensors

/// A block's parameter gradients read in table order, each component taking its own entries
/// before the backward runs: the table and the gradients' layout are one order, not two lists.
struct GradientCursor {
  var tensors: ArraySlice<Tensor>

  init(_ tensors: ArraySlice<Tensor>) {
    self.tensors = tensors
  }

  mutating func next() -> Tensor {
    tensors.removeFirst()
  }

  /// The gradient of `linear`, laid out as `Linear.parameters`.
  mutating func next(for linear: Linear) -> LinearGradient {
    LinearGradient(weight: next(), bias: linear.bias == nil ? nil : next())
  }

  /// The gradient of `norm`, laid out as `Norm.parameters`.
  mutating func next(for norm: Norm) -> Norm.Gradient {
    Norm.Gradient(
      weight: norm.weight == nil ? nil : next(), bias: norm.bias == nil ? nil : next())
  }
}
