import Foundation
import Models
import Tensors

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
    try measureSums(
      model: model, sequences: sequences, scoring: scoring, memoryBudget: memoryBudget,
      upTo: lastState, capture: capture, progress: progress
    ).matrix
  }

  /// The sums behind `measure`, in fixed point (see `SimilaritySums`): the same sequences give
  /// the same sums whatever the passes, cores or shards they were split into.
  ///
  /// `layers` runs a pruned view of the model (those source layers, in order); states are then
  /// numbered along the view.
  public static func measureSums(
    model: DecoderModel, sequences: [[Int]], scoring: Int? = nil, memoryBudget: Int = 8 << 30,
    upTo lastState: Int? = nil, layers viewLayers: [Int]? = nil,
    capture: (
      (_ state: Int, _ x: Tensor, _ batch: Batch, _ sequences: Range<Int>) throws -> Void
    )? =
      nil,
    progress: Progress? = nil
  ) throws -> SimilaritySums {
    let scoring = scoring ?? sequences.count
    let view = viewLayers ?? Array(0..<model.config.numLayers)
    let layers = view.count
    let width = model.config.hiddenSize
    let states = layers + 1
    var sums = SimilaritySums(numLayers: layers)
    let perToken = states * width * MemoryLayout<Float>.size
    let rowsPerPass = max(1, memoryBudget / perToken)
    let groups = passes(sequences.map(\.count), rowsPerPass: rowsPerPass)
    let tokens = sequences[..<scoring].reduce(0) { $0 + $1.count }
    guard tokens < SimilaritySums.tokenLimit else {
      throw StreamlineError.badRequest(
        "\(tokens) scoring tokens exceed the \(SimilaritySums.tokenLimit) one pass can sum")
    }
    var done = 0
    for group in groups {
      let slice = Array(sequences[group])
      let scoredRows = sequences[group].prefix(max(0, scoring - group.lowerBound))
        .reduce(0) { $0 + $1.count }
      // Unit vectors of every state so far, one per token: [state][rows, C].
      var units: [Tensor] = []
      try model.forward(
        slice, layers: Array(view.prefix(lastState ?? layers)),
        hiddenState: { index, x, batch in
          try capture?(index, x, batch, group)
          guard scoredRows > 0 else { return }
          guard let unit = normalizedRows(x, rows: scoredRows) else {
            // A NaN would score as some arbitrary cosine (-1 after clamping) and an infinity as
            // NaN: refuse, naming where the stream stopped being finite.
            let source = index == 0 ? "the embeddings" : "layer \(view[index - 1])"
            throw StreamlineError.badRequest(
              "\(source): its output holds NaN or infinite values, so its similarity is undefined (the weights or activations overflow)"
            )
          }
          let rows = scoredRows
          for earlier in 0..<index {
            let (cos, ang) = fixedSumsOfCosines(units[earlier], unit, rows: rows, columns: width)
            sums.cosine[earlier][index] += cos
            sums.angular[earlier][index] += ang
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
    sums.tokens = tokens
    sums.samples = scoring
    return sums
  }

  /// Consecutive groups of sequences with at most `rowsPerPass` rows each (at least one).
  static func passes(_ lengths: [Int], rowsPerPass: Int) -> [Range<Int>] {
    Batch(lengths: lengths).chunks(rowLimit: rowsPerPass)
  }

  /// The first `rows` rows, each divided by its Euclidean norm (a zero row stays zero); nil
  /// when a row holds NaN or an infinity (its squared norm is then not finite).
  static func normalizedRows(_ x: Tensor, rows: Int) -> Tensor? {
    let columns = x.columns
    let out = Tensor(uninitialized: [rows, columns])
    // One flag per row, each written by the one thread that owns the row.
    var finite = [Bool](repeating: true, count: rows)
    finite.withUnsafeMutableBufferPointer { finite in
      Parallel.chunks(rows, grain: 8) { range in
        for r in range {
          let row = x.row(r)
          let dst = out.row(r)
          var sum = 0.0
          for c in 0..<columns { sum += Double(row[c]) * Double(row[c]) }
          finite[r] = sum.isFinite
          let scale = sum > 0 ? Float(1 / sum.squareRoot()) : 0
          for c in 0..<columns { dst[c] = row[c] * scale }
        }
      }
    }
    return finite.allSatisfy { $0 } ? out : nil
  }

  /// `sumsOfCosines` in fixed point: each token's cosine and angle rounded to a multiple of
  /// 2⁻³² and summed as integers, so the sum does not depend on how rows are split.
  static func fixedSumsOfCosines(_ a: Tensor, _ b: Tensor, rows: Int, columns: Int) -> (
    Int64, Int64
  ) {
    let parts = Parallel.cores
    var cosines = [Int64](repeating: 0, count: parts)
    var angles = [Int64](repeating: 0, count: parts)
    let step = (rows + parts - 1) / parts
    let scale = SimilaritySums.scale
    cosines.withUnsafeMutableBufferPointer { cosines in
      angles.withUnsafeMutableBufferPointer { angles in
        DispatchQueue.concurrentPerform(iterations: parts) { p in
          var cosineSum: Int64 = 0
          var angleSum: Int64 = 0
          for r in (p * step)..<min(rows, (p + 1) * step) {
            let cos = cosine(a.row(r), b.row(r), columns: columns)
            cosineSum += Int64((cos * scale).rounded())
            angleSum += Int64((acos(cos) / Double.pi * scale).rounded())
          }
          cosines[p] = cosineSum
          angles[p] = angleSum
        }
      }
    }
    return (cosines.reduce(0, +), angles.reduce(0, +))
  }

  /// cos of two unit rows, clamped to [-1, 1].
  @inline(__always)
  static func cosine(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, columns: Int) -> Double {
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
    return min(1, max(-1, cos))
  }
}
