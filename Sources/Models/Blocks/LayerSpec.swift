import Checkpoint
import Tensors

/// A decoder layer as a family composes it: an attention block, then a feed-forward block.
/// The layer's parameter table is the attention block's entries, then the feed-forward
/// block's, then any the attention block puts last (Qwen3's q/k norms); the checkpoint's
/// tensor list, loading, random weights and the gradients' layout all follow from it.
public struct LayerSpec: Sendable {
  let attention: AttentionBlock.Spec
  let feedForward: FeedForwardBlock.Spec

  init(attention: AttentionBlock.Spec, feedForward: FeedForwardBlock.Spec) {
    self.attention = attention
    self.feedForward = feedForward
  }

  var hiddenSize: Int { attention.norms.norm.width }

  /// Each stored tensor's Hugging Face tensors, names relative to the layer prefix, in table
  /// order.
  var tableParts: [[(name: String, shape: [Int])]] {
    let own = attention.tableParts
    let last = attention.trailingEntries
    return own.dropLast(last) + feedForward.tableParts + own.suffix(last)
  }

  /// Every tensor of the layer, full name and shape, in table order
  /// (`Architecture.layerTensors`).
  func tensors(prefix: String) -> [(name: String, shape: [Int])] {
    tableParts.flatMap { $0.map { (prefix + $0.name, $0.shape) } }
  }

  func load<Layer: BlockLayer>(
    _ type: Layer.Type, prefix: String, from folder: ModelFolder, precision: Precision
  ) throws -> Layer {
    type.init(
      spec: self, attention: try attention.load(prefix: prefix, from: folder, precision: precision),
      feedForward: try feedForward.load(prefix: prefix, from: folder, precision: precision))
  }

  /// Random products, identity norms (benchmarks).
  func random<Layer: BlockLayer>(
    _ type: Layer.Type, precision: Precision, using generator: inout SplitMix
  ) -> Layer {
    let attention = attention.random(precision: precision, using: &generator)
    return type.init(
      spec: self, attention: attention,
      feedForward: feedForward.random(precision: precision, using: &generator))
  }
}
