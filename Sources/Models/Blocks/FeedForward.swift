import Checkpoint
import Tensors

/// What a feed-forward block computes between its norms, `[rows, C] → [rows, C]`: a dense MLP
/// (gated or plain) today. A mixture of experts adopts it the same way: its router and
/// experts are its parameters, its table entries and its backward, and the block around it
/// (norms, residual, the layer's table) does not change.
protocol FeedForward: AnyObject, Sendable {
  /// The stored tensors, in the order of its spec's `tableParts`.
  var parameters: [Tensor] { get }
  /// Buffers the forward fills for the backward.
  func saving(rows: Int) -> AnyObject
  /// `out (+)= f(input)` over `rows` rows, keeping what the backward needs in `saved` (made by
  /// `saving(rows:)`). Uses scratch slots 1 and 2.
  func forward(
    _ input: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, accumulate: Bool,
    rows: Int, saving saved: AnyObject?, scratch: Scratch)
  /// Backward from the forward's `input`: adds dL/d(input) into `dInput` and the parameter
  /// gradients into `gradients` (its own entries in table order; nil when frozen).
  func backward(
    _ dOut: UnsafePointer<Float>, input: UnsafePointer<Float>,
    dInput: UnsafeMutablePointer<Float>, rows: Int, saved: AnyObject,
    gradients: ArraySlice<Tensor>?)
}

/// A feed-forward computation as a family's config describes it.
protocol FeedForwardSpec: Sendable {
  var tableParts: [[(name: String, shape: [Int])]] { get }
  /// The projection whose output is added to the stream, when a linear map on that output
  /// folds into it (`MLPOutputFolding`); nil when none does.
  var outputProjection: Projection? { get }
  func load(prefix: String, from folder: ModelFolder, precision: Precision) throws
    -> any FeedForward
  func random(precision: Precision, using generator: inout SplitMix) -> any FeedForward
}
