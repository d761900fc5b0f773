import Checkpoint
import Tensors

/// A Linear of a block as its family names it: the checkpoint tensors stacked by rows into the
/// block's one product (q/k/v, gate/up; a fused tensor such as Phi-3's `qkv_proj` is one part),
/// and whether it has biases. Loading, random weights and the Linear's share of the parameter
/// table (weight, then bias) all come from it.
public struct Projection: Sendable {
  /// Each stacked tensor's name without `.weight`, relative to the layer prefix, and its rows.
  public let parts: [(name: String, rows: Int)]
  public let inFeatures: Int
  public let bias: Bool

  public init(_ parts: [(name: String, rows: Int)], inFeatures: Int, bias: Bool) {
    self.parts = parts
    self.inFeatures = inFeatures
    self.bias = bias
  }

  public var outFeatures: Int { parts.reduce(0) { $0 + $1.rows } }

  /// The weight's table entry, then the bias's when there is one.
  var tableParts: [[(name: String, shape: [Int])]] {
    let weight = parts.map { ($0.name + ".weight", [$0.rows, inFeatures]) }
    return bias ? [weight, parts.map { ($0.name + ".bias", [$0.rows]) }] : [weight]
  }

  func load(prefix: String, from folder: ModelFolder, precision: Precision) throws -> Linear {
    try Linear.load(
      stacking: parts.map { prefix + $0.name + ".weight" }, outFeatures: parts.map(\.rows),
      inFeatures: inFeatures, biases: parts.map { bias ? prefix + $0.name + ".bias" : nil },
      from: folder, precision: precision)
  }

  func random(precision: Precision, using generator: inout SplitMix) -> Linear {
    .random(
      outFeatures: outFeatures, inFeatures: inFeatures, bias: bias, precision: precision,
      using: &generator)
  }
}
