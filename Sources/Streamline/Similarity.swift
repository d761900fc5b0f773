import Foundation
import Models
import Tensors

/// Token-averaged similarity between every pair of hidden states, from one streamed pass.
///
/// States are numbered 0...L: 0 is the embeddings, i the residual stream after layer i (before
/// the final norm). `cosine[i][j]` is the mean over every token of every sequence of
/// cos(h_i[t], h_j[t]); `angular[i][j]` the mean of arccos(cos)/π (Gromov et al.).
public struct SimilarityMatrix: Codable, Sendable, Equatable {
  public let numLayers: Int
  public let tokens: Int
  public let samples: Int
  public let cosine: [[Double]]
  public let angular: [[Double]]

  /// ShortGPT's Block Influence of each layer: 1 − mean cos(h_i, h_{i+1}).
  public var layerBI: [Double] { (0..<numLayers).map { 1 - cosine[$0][$0 + 1] } }
}

public enum Similarity {
  /// Runs the model over `sequences` one layer at a time and accumulates the pairwise sums over
  /// the first `scoring` sequences (all by default); the others only go through the pass, for
  /// `capture` to keep their states as training data.
  ///
  /// Every pair needs all earlier states of a token while a later one is computed, so the
  /// sequences go through in as many passes as it takes to keep the stored states within
  /// `memoryBudget` bytes (each pass reads the weights again; results are identical).
  public static func measure(
    model: DecoderModel, sequences: [[Int]], scoring: Int? = nil, memoryBudget: Int = 8 << 30,
    upTo lastState: Int? = nil,
    capture: (
      (_ state: Int, _ x: Tensor, _ batch: Batch, _ sequences: Range<Int>) throws -> Void
    )? =
      nil,
    progress: Progress? = nil
  ) throws -> SimilarityMatrix {
    let scoring = scoring ?? sequences.count
    let layers = model.config.numLayers
    let width = model.config.hiddenSize
    let states = layers + 1
    var cosine = [[Double]](repeating: .init(repeating: 0, count: states), count: states)
    var angular = cosine
    let perToken = states * width * MemoryLayout<Float>.size
    let rowsPerPass = max(1, memoryBudget / perToken)
    let groups = passes(sequences.map(\.count), rowsPerPass: rowsPerPass)
    let tokens = sequences[..<scoring].reduce(0) { $0 + $1.count }
    var done = 0
    for group in groups {
      let slice = Array(sequences[group])
      let scoredRows = sequences[group].prefix(max(0, scoring - group.lowerBound))
        .reduce(0) { $0 + $1.count }
      // Unit vectors of every state so far, one per token: [state][rows, C].
      var units: [Tensor] = []
      try model.forward(
        slice, layers: lastState.map { Array(0..<$0) },
        hiddenState: { index, x, batch in
          try capture?(index, x, batch, group)
          guard scoredRows > 0 else { return }
          let unit = normalizedRows(x, rows: scoredRows)
          let rows = scoredRows
          for earlier in 0..<index {
            let (cos, ang) = sumsOfCosines(units[earlier], unit, rows: rows, columns: width)
            cosine[earlier][index] += cos
            angular[earlier][index] += ang
          }
          units.append(unit)
        },
        progress: { layer, total in
          progress?.update(
            done * layers + layer, of: groups.count * layers,
            amount: Double(done * layers + layer) * Double(tokens) / Double(groups.count * layers))
        })
      done += 1
    }
    for i in 0..<states {
      cosine[i][i] = 1
      angular[i][i] = 0
      for j in (i + 1)..<states where j < states {
        cosine[i][j] /= Double(tokens)
        angular[i][j] /= Double(tokens)
        cosine[j][i] = cosine[i][j]
        angular[j][i] = angular[i][j]
      }
    }
    return SimilarityMatrix(
      numLayers: layers, tokens: tokens, samples: scoring, cosine: cosine,
      angular: angular)
  }

  /// Consecutive groups of sequences with at most `rowsPerPass` rows each (at least one).
  static func passes(_ lengths: [Int], rowsPerPass: Int) -> [Range<Int>] {
    Batch(lengths: lengths).chunks(rowLimit: rowsPerPass)
  }

  /// The first `rows` rows, each divided by its Euclidean norm (a zero row stays zero).
  static func normalizedRows(_ x: Tensor, rows: Int) -> Tensor {
    let columns = x.columns
    let out = Tensor(uninitialized: [rows, columns])
    Parallel.chunks(rows, grain: 8) { range in
      for r in range {
        let row = x.row(r)
        let dst = out.row(r)
        var sum = 0.0
        for c in 0..<columns { sum += Double(row[c]) * Double(row[c]) }
        let scale = sum > 0 ? Float(1 / sum.squareRoot()) : 0
        for c in 0..<columns { dst[c] = row[c] * scale }
      }
    }
    return out
  }

  /// Sums over rows of cos(a[r], b[r]) and of arccos(cos)/π, for unit-normalised rows.
  static func sumsOfCosines(_ a: Tensor, _ b: Tensor, rows: Int, columns: Int) -> (
    Double, Double
  ) {
    let parts = Parallel.cores
    var cosines = [Double](repeating: 0, count: parts)
    var angles = [Double](repeating: 0, count: parts)
    let step = (rows + parts - 1) / parts
    cosines.withUnsafeMutableBufferPointer { cosines in
      angles.withUnsafeMutableBufferPointer { angles in
        DispatchQueue.concurrentPerform(iterations: parts) { p in
          var cosineSum = 0.0
          var angleSum = 0.0
          for r in (p * step)..<min(rows, (p + 1) * step) {
            let x = a.row(r)
            let y = b.row(r)
            var dot = SIMD8<Float>()
            var c = 0
            while c + 8 <= columns {
              dot +=
                UnsafeRawPointer(x + c).loadUnaligned(as: SIMD8<Float>.self)
                * UnsafeRawPointer(y + c).loadUnaligned(as: SIMD8<Float>.self)
              c += 8
            }
            var cos = Double(dot.sum())
            while c < columns {
              cos += Double(x[c] * y[c])
              c += 1
            }
            cos = min(1, max(-1, cos))
            cosineSum += cos
            angleSum += acos(cos) / Double.pi
          }
          cosines[p] = cosineSum
          angles[p] = angleSum
        }
      }
    }
    return (cosines.reduce(0, +), angles.reduce(0, +))
  }
}
