import Foundation
import Models
import Tensors

public enum ReplacementInitialization {
  /// Folds the least-squares map T (`m·T ≈ target − a` over `sequences` of `data`, m the
  /// layer's MLP output and a the residual before its MLP, both for the input h_start) into the
  /// layer's MLP output projection, so `layer(h_start) ≈ h_end` as well as a linear map of its
  /// MLP output can make it. Returns the rows fitted.
  @discardableResult
  public static func foldLinearMap(
    into layer: any DecoderLayer, data: TrainingData, targets: UnsafePointer<Float>,
    sequences: [Int], modelType: String
  ) throws -> Int {
    let folding = try LinearMap.folding(
      layer, otherwise: "which \(modelType) layers do not add straight into the residual stream",
      refusal: CompressionError.initializationCannotFold)
    let map = try LinearMap.fit(
      layer: folding, inputs: data.inputs, targets: targets, lengths: data.lengths,
      sequences: sequences)
    try map.fold(into: folding, modelType: modelType)
    return map.rows
  }

  /// MKA-style merge weights (after "Pruning via Merging: Compressing LLMs via Manifold
  /// Alignment Based Layer Merging", Liu et al., 2024, which merges layers with a ratio set by
  /// the similarity of their representations). Layer j of the block `start..<end` gets
  ///
  ///     s_j = mean over tokens of cos(h_j, h_start)   (s_start = 1),   w_j = s_j / Σ s,
  ///
  /// with h_j the state entering layer j, computed by running the original block layers over
  /// `sequences`: the merged layer sees h_start, so a layer whose input looks like h_start
  /// gets more weight. Negative similarities count as 0.
  public static func mergeWeights(
    layers: [any DecoderLayer], data: TrainingData, sequences: [Int]
  ) -> [Double] {
    let c = data.width
    let offsets = data.offsets
    let context = LayerContext(span: data.lengths.max() ?? 1)
    var sums = [Double](repeating: 0, count: layers.count)
    var tokens = 0
    for s in sequences {
      let count = data.lengths[s]
      let input = data.inputs + offsets[s] * c
      let x = Tensor(uninitialized: [count, c])
      x.pointer.update(from: input, count: count * c)
      for (j, layer) in layers.enumerated() {
        if j > 0 {
          for t in 0..<count {
            sums[j] += cosine(x.pointer + t * c, input + t * c, count: c)
          }
        }
        if j + 1 < layers.count {
          layer.forward(x.pointer, batch: Batch(lengths: [count]), context: context)
        }
      }
      tokens += count
    }
    var similarity = sums.map { max(0, $0 / Double(max(1, tokens))) }
    similarity[0] = 1
    let total = similarity.reduce(0, +)
    return similarity.map { $0 / total }
  }

  static func cosine(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
    var dot = 0.0
    var aa = 0.0
    var bb = 0.0
    for i in 0..<count {
      dot += Double(a[i]) * Double(b[i])
      aa += Double(a[i]) * Double(a[i])
      bb += Double(b[i]) * Double(b[i])
    }
    return dot / max((aa * bb).squareRoot(), 1e-30)
  }

  /// Overwrites every parameter of `layers[0]` with `Σ_j weights[j] · layers[j]`'s.
  public static func merge(_ layers: [any DecoderLayer], weights: [Double]) {
    precondition(layers.count == weights.count && !layers.isEmpty)
    let tables = layers.map(\.parameters)
    for (index, target) in tables[0].enumerated() {
      let count = target.count
      let merged = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        for i in 0..<count {
          var sum = 0.0
          for j in layers.indices { sum += weights[j] * Double(tables[j][index].data[i]) }
          buffer[i] = Float(sum)
        }
        initialized = count
      }
      target.pointer.update(from: merged, count: count)
    }
  }
}
