import Foundation
import Tensors

/// A decoder layer composed of blocks: `x ← attention(x)`, then `x ← feedForward(x)`, each
/// block owning its forward, its backward and its share of the parameter table. A family's
/// layer is a subclass that says, by the capability protocols it adopts, what generic code may
/// do with it; the computation is all here and in the blocks.
public class BlockLayer: DecoderLayer, @unchecked Sendable {
  public let spec: LayerSpec
  public let attention: AttentionBlock
  public let feedForward: FeedForwardBlock

  public required init(spec: LayerSpec, attention: AttentionBlock, feedForward: FeedForwardBlock) {
    self.spec = spec
    self.attention = attention
    self.feedForward = feedForward
  }

  public var hiddenSize: Int { spec.hiddenSize }

  public func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext, workspace: Workspace?
  ) {
    let scratch = Scratch(workspace: workspace)
    attention.forward(x, batch: batch, context: context, saving: nil, scratch: scratch)
    feedForward.forward(x, rows: batch.rows, saving: nil, scratch: scratch)
  }

  /// What the forward keeps for the backward: each block's.
  final class Activations: SavedActivations, @unchecked Sendable {
    let batch: Batch
    let attention: AttentionBlock.Activations
    let feedForward: FeedForwardBlock.Activations

    init(_ layer: BlockLayer, batch: Batch) {
      self.batch = batch
      attention = AttentionBlock.Activations(layer.attention, rows: batch.rows)
      feedForward = FeedForwardBlock.Activations(layer.feedForward, rows: batch.rows)
    }
  }

  public func forwardSaving(_ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext)
    -> any SavedActivations
  {
    let saved = Activations(self, batch: batch)
    let scratch = Scratch(workspace: nil)
    attention.forward(x, batch: batch, context: context, saving: saved.attention, scratch: scratch)
    feedForward.forward(x, rows: batch.rows, saving: saved.feedForward, scratch: scratch)
    return saved
  }

  public func backward(
    _ saved: any SavedActivations, gradient: UnsafeMutablePointer<Float>,
    into gradients: LayerGradients?, context: LayerContext
  ) {
    let saved = saved as! Activations
    let (attentionEntries, feedForwardEntries) = tableSections
    let tensors = gradients?.tensors
    feedForward.backward(
      gradient, saved: saved.feedForward, rows: saved.batch.rows,
      gradients: tensors.map { $0[feedForwardEntries] })
    attention.backward(
      gradient, saved: saved.attention, batch: saved.batch, context: context,
      gradients: tensors.map { tensors in ArraySlice(attentionEntries.flatMap { tensors[$0] }) })
  }

  /// Where each block's entries lie in the table: the attention block's (its last ones moved to
  /// the end of the table), and the feed-forward block's.
  var tableSections: (attention: [Range<Int>], feedForward: Range<Int>) {
    let own = spec.attention.tableParts.count
    let last = spec.attention.trailingEntries
    let feedForward = spec.feedForward.tableParts.count
    let first = own - last
    return (
      [0..<first, (first + feedForward)..<(own + feedForward)], first..<(first + feedForward)
    )
  }

  public var parameterTable: [LayerParameter] {
    let own = attention.parameters
    let last = spec.attention.trailingEntries
    let tensors = own.dropLast(last) + feedForward.parameters + own.suffix(last)
    return zip(tensors, spec.tableParts).map { LayerParameter($0, parts: $1) }
  }
}

extension AttentionSwitching where Self: BlockLayer {
  /// A zero o_proj (and bias) makes the attention block add nothing (Gemma's output norm of 0
  /// is 0), leaving the feed-forward block, whose entries are the ones to train.
  public func switchOffAttention() -> [Int] {
    attention.switchOff()
    return Array(tableSections.feedForward)
  }
}

extension MLPOutputFolding where Self: BlockLayer {
  public var mlpOutputProjection: (weight: String, bias: String?) {
    let projection = spec.feedForward.feedForward.outputProjection!
    let name = projection.parts[0].name
    return (name + ".weight", projection.bias ? name + ".bias" : nil)
  }

  public func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext,
    beforeMLP: UnsafeMutablePointer<Float>
  ) {
    let scratch = Scratch(workspace: nil)
    attention.forward(x, batch: batch, context: context, saving: nil, scratch: scratch)
    beforeMLP.update(from: x, count: batch.rows * hiddenSize)
    feedForward.forward(x, rows: batch.rows, saving: nil, scratch: scratch)
  }
}
