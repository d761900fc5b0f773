import Foundation
import Models
import Tensors

/// The training-free replacement of ReplaceMe (2025): with a block of n layers removed after
/// layer i − 1, whose output is h_i = a + m (a the residual after its attention, m its MLP
/// output), the least-squares map T with a + m·T ≈ h_i+n is folded into that layer's
/// `down_proj`: W ← Tᵀ·W and b ← Tᵀ·b, so m becomes m·T with no extra parameters.
public enum LinearReplacement {
  /// The pairs the map is fitted on, for `sequences` (rows `offsets` of `inputs`, `targets`):
  /// m, the MLP output of `layer` run on the input, and y = target − a, a the residual the MLP
  /// adds to; and, when `plain`, the residual of plain removal, target − the layer's output.
  /// `--replace linear` (the layer before the block, on h_start−1) and `--init linear` (the
  /// replacement layer, on h_start) both fit through here.
  static func pairs(
    layer: any MLPOutputFolding, inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>,
    lengths: [Int], sequences: [Int], plain withPlain: Bool = false
  ) -> (m: Tensor, y: Tensor, plain: Tensor?) {
    let c = layer.hiddenSize
    let offsets = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
    let context = LayerContext(span: lengths.max() ?? 1)
    let rows = sequences.reduce(0) { $0 + lengths[$1] }
    let m = Tensor(uninitialized: [rows, c])  // [rows, C] MLP output
    let y = Tensor(uninitialized: [rows, c])  // [rows, C] target − a
    let plain = withPlain ? Tensor(uninitialized: [rows, c]) : nil  // [rows, C] target − x
    var row = 0
    for s in sequences {
      let count = lengths[s]
      let x = Tensor(uninitialized: [count, c])
      x.pointer.update(from: inputs + offsets[s] * c, count: count * c)
      let a = Tensor(uninitialized: [count, c])  // [count, C], with the output x = a + m
      layer.forward(
        x.pointer, batch: Batch(lengths: [count]), context: context, beforeMLP: a.pointer)
      let target = targets + offsets[s] * c
      let mRow = m.row(row)
      let yRow = y.row(row)
      for i in 0..<(count * c) {
        mRow[i] = x.data[i] - a.data[i]
        yRow[i] = target[i] - a.data[i]
      }
      if let plain {
        let plainRow = plain.row(row)
        for i in 0..<(count * c) { plainRow[i] = target[i] - x.data[i] }
      }
      row += count
    }
    return (m, y, plain)
  }

  /// The map fitted on `sequences`: T with `layer`'s MLP output m·T ≈ target − a, and the rows
  /// it was fitted on. The one fit behind `--replace linear` and `--init linear`.
  static func fit(
    layer: any MLPOutputFolding, inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>,
    lengths: [Int], sequences: [Int]
  ) throws -> (map: [Double], rows: Int) {
    let fitting = pairs(
      layer: layer, inputs: inputs, targets: targets, lengths: lengths, sequences: sequences)
    let map = try fit(
      m: fitting.m.pointer, y: fitting.y.pointer, rows: fitting.m.rows, width: layer.hiddenSize)
    return (map, fitting.m.rows)
  }

  /// T (`[C, C]`, row-major: input feature by output feature) minimising ‖m·T − y‖² over the
  /// rows, from the normal equations in Double, solved by Cholesky. A tiny ridge is added only
  /// if mᵀm is numerically singular.
  public static func fit(m: UnsafePointer<Float>, y: UnsafePointer<Float>, rows: Int, width c: Int)
    throws -> [Double]
  {
    var gram = [Double](repeating: 0, count: c * c)  // mᵀm
    var cross = [Double](repeating: 0, count: c * c)  // mᵀy
    let chunk = 4096
    let partial = Tensor(uninitialized: [c, c])
    for first in stride(from: 0, to: rows, by: chunk) {
      let count = min(chunk, rows - first)
      for (target, right) in [(0, m), (1, y)] {
        MatMul.gemm(
          transposeA: true, transposeB: false, m: c, n: c, k: count, a: m + first * c, lda: c,
          b: right + first * c, ldb: c, c: partial.pointer, ldc: c)
        if target == 0 {
          for i in 0..<(c * c) { gram[i] += Double(partial.data[i]) }
        } else {
          for i in 0..<(c * c) { cross[i] += Double(partial.data[i]) }
        }
      }
    }
    var factor = gram
    if !cholesky(&factor, size: c) {
      let trace = (0..<c).reduce(0.0) { $0 + gram[$1 * c + $1] }
      factor = gram
      for i in 0..<c { factor[i * c + i] += 1e-6 * trace / Double(c) + 1e-12 }
      guard cholesky(&factor, size: c) else {
        throw CompressionError.degenerateLinearFit
      }
    }
    return solve(factor, cross, size: c)
  }

  /// In-place lower Cholesky factor of a symmetric positive definite matrix; false if it is not.
  static func cholesky(_ a: inout [Double], size n: Int) -> Bool {
    for j in 0..<n {
      var diagonal = a[j * n + j]
      for k in 0..<j { diagonal -= a[j * n + k] * a[j * n + k] }
      guard diagonal > 0, diagonal.isFinite else { return false }
      let root = diagonal.squareRoot()
      a[j * n + j] = root
      let rowJ = j * n
      DispatchQueue.concurrentPerform(iterations: Parallel.cores) { part in
        var i = j + 1 + part
        while i < n {
          var sum = a[i * n + j]
          let rowI = i * n
          for k in 0..<j { sum -= a[rowI + k] * a[rowJ + k] }
          a[rowI + j] = sum / root
          i += Parallel.cores
        }
      }
    }
    return true
  }

  /// X with L·Lᵀ·X = B (columns of B solved independently, in parallel).
  static func solve(_ l: [Double], _ b: [Double], size n: Int) -> [Double] {
    var x = b
    x.withUnsafeMutableBufferPointer { x in
      l.withUnsafeBufferPointer { l in
        Parallel.chunks(n, grain: 8) { columns in
          var column = [Double](repeating: 0, count: n)
          for j in columns {
            for i in 0..<n { column[i] = x[i * n + j] }
            for i in 0..<n {  // L·z = b
              var sum = column[i]
              for k in 0..<i { sum -= l[i * n + k] * column[k] }
              column[i] = sum / l[i * n + i]
            }
            for i in stride(from: n - 1, through: 0, by: -1) {  // Lᵀ·x = z
              var sum = column[i]
              for k in (i + 1)..<n { sum -= l[k * n + i] * column[k] }
              column[i] = sum / l[i * n + i]
            }
            for i in 0..<n { x[i * n + j] = column[i] }
          }
        }
      }
    }
    return x
  }

  /// `Tᵀ·W` for a `down_proj` weight `[C, I]` (and `Tᵀ·b` for its bias).
  public static func fold(_ t: [Double], into weight: Tensor, bias: Tensor?) -> (Tensor, Tensor?) {
    let c = weight.shape[0]
    let inner = weight.shape[1]
    let transform = Tensor(shape: [c, c], values: t.map { Float($0) })
    let folded = Tensor(uninitialized: [c, inner])
    MatMul.gemm(
      transposeA: true, transposeB: false, m: c, n: inner, k: c, a: transform.pointer, lda: c,
      b: weight.pointer, ldb: inner, c: folded.pointer, ldc: inner)
    let foldedBias = bias.map { bias -> Tensor in
      let out = Tensor(zeros: [c])
      for o in 0..<c {
        var sum = 0.0
        for i in 0..<c { sum += t[i * c + o] * Double(bias.data[i]) }
        out.data[o] = Float(sum)
      }
      return out
    }
    return (folded, foldedBias)
  }
}
