import Foundation
import Models
import Tensors

/// Where the replacement layer of a block `start..<end` starts training from.
public enum ReplacementInit: String, Codable, Sendable, CaseIterable {
  /// The block's first layer (LLM-Streamline's choice).
  case first
  /// The block's first layer with the training-free linear map folded into its MLP output
  /// projection: training starts where a ReplaceMe-style map ends.
  case linear
  /// A merge of the block's layers, each parameter a weighted average (MKA-style).
  case merge
  /// Each of the above scored on the validation split; the lowest loss trains.
  case auto

  /// The candidates `auto` scores, in the order ties are broken.
  public static let candidates: [ReplacementInit] = [.linear, .first, .merge]
}

/// What the initialisation chose and why.
public struct InitializationReport: Codable, Sendable {
  public let requested: ReplacementInit
  public let chosen: ReplacementInit
  /// Each candidate's validation loss (the training loss, before any step).
  public let validation: [String: Double]
  /// The merge's weight of each block layer, for `merge` (scored or chosen).
  public let mergeWeights: [Double]?

  enum CodingKeys: String, CodingKey {
    case requested, chosen, validation
    case mergeWeights = "merge_weights"
  }
}

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
    guard let folding = layer as? any MLPOutputFolding else {
      throw CompressionError.initializationCannotFold(
        reason: layer.reasonLacking(
          .mlpOutputFolding,
          otherwise: "which \(modelType) layers do not add straight into the residual stream"))
    }
    let (t, rows) = try LinearReplacement.fit(
      layer: folding, inputs: data.inputs, targets: targets, lengths: data.lengths,
      sequences: sequences)
    let names = folding.mlpOutputProjection
    guard let weight = tensor(named: names.weight, in: layer) else {
      throw CompressionError.missingParameter(modelType: modelType, name: names.weight)
    }
    let bias = names.bias.flatMap { tensor(named: $0, in: layer) }
    let (folded, foldedBias) = LinearReplacement.fold(t, into: weight, bias: bias)
    weight.pointer.update(from: folded.pointer, count: folded.count)
    if let bias, let foldedBias { bias.pointer.update(from: foldedBias.pointer, count: bias.count) }
    return rows
  }

  /// The stored tensor holding exactly the Hugging Face tensor `name` (relative to the layer),
  /// when the table keeps it as an entry of its own.
  static func tensor(named name: String, in layer: any DecoderLayer) -> Tensor? {
    layer.parameterTable.first { $0.parts.count == 1 && $0.parts[0].name == name }?.tensor
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
