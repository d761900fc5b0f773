import Checkpoint
import Tensors

/// The feed-forward half of a decoder layer: a `FeedForward` (gated or plain MLP) with its norms
/// placed as `ResidualNorms` places them.
public final class FeedForwardBlock: @unchecked Sendable {
  /// The block as a family's config describes it.
  public struct Spec: Sendable {
    let norms: ResidualNorms.Spec
    let feedForward: any FeedForwardSpec

    /// The block's share of the layer's table: norm, the feed-forward's entries, output norm.
    var tableParts: [[(name: String, shape: [Int])]] {
      norms.leadingParts + feedForward.tableParts + norms.trailingParts
    }

    func load(prefix: String, from folder: ModelFolder, precision: Precision) throws
      -> FeedForwardBlock
    {
      let norms = try ResidualNorms(norms, inputGradientInPlace: false) {
        try $0.load(prefix: prefix, from: folder)
      }
      return FeedForwardBlock(
        self, norms: norms,
        feedForward: try feedForward.load(prefix: prefix, from: folder, precision: precision))
    }

    func random(precision: Precision, using generator: inout SplitMix) -> FeedForwardBlock {
      FeedForwardBlock(
        self, norms: ResidualNorms(norms, inputGradientInPlace: false) { $0.identity() },
        feedForward: feedForward.random(precision: precision, using: &generator))
    }
  }

  public let spec: Spec
  let norms: ResidualNorms
  let feedForward: any FeedForward

  init(_ spec: Spec, norms: ResidualNorms, feedForward: any FeedForward) {
    self.spec = spec
    self.norms = norms
    self.feedForward = feedForward
  }

  /// The stored tensors in `spec.tableParts` order.
  var parameters: [Tensor] {
    norms.norm.parameters + feedForward.parameters + (norms.outputNorm?.parameters ?? [])
  }

  /// What the forward keeps for the backward.
  final class Activations: @unchecked Sendable {
    let residual: ResidualNorms.Activations
    let feedForward: AnyObject

    init(_ block: FeedForwardBlock, rows: Int) {
      residual = ResidualNorms.Activations(block.norms, rows: rows)
      feedForward = block.feedForward.saving(rows: rows)
    }
  }

  /// Runs the block in place on the residual stream `x` (`[rows, C]`). Uses scratch slots 0
  /// to 4.
  func forward(
    _ x: UnsafeMutablePointer<Float>, rows: Int, saving saved: Activations?, scratch: Scratch
  ) {
    norms.forward(x, rows: rows, saving: saved?.residual, scratch: scratch) {
      input, out, accumulate in
      feedForward.forward(
        input, into: out, accumulate: accumulate, rows: rows, saving: saved?.feedForward,
        scratch: scratch)
    }
  }

  /// Backward of `forward`, in place on the stream's gradient `g`; parameter gradients added
  /// into `gradients` (this block's entries, in its table order; nil when frozen).
  func backward(
    _ g: UnsafeMutablePointer<Float>, saved: Activations, rows: Int,
    gradients: ArraySlice<Tensor>?
  ) {
    var cursor = gradients.map(GradientCursor.init)
    let normGradient = norms.leadingGradient(&cursor)
    let own = cursor.map { $0.tensors.prefix(feedForward.parameters.count) }
    cursor?.tensors.removeFirst(own?.count ?? 0)
    let outputNormGradient = norms.trailingGradient(&cursor)
    norms.backward(
      g, saved: saved.residual, rows: rows, gradients: (normGradient, outputNormGradient)
    ) { dOut, dInput in
      feedForward.backward(
        dOut, input: saved.residual.sublayerInput.pointer, dInput: dInput, rows: rows,
        saved: saved.feedForward, gradients: own)
    }
  }
}
