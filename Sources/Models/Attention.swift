import Foundation
import Tensors

/// Causal grouped-query attention over sequences laid end to end in one buffer.
///
/// Work is spread over the cores by (sequence, head), each product running single-threaded:
/// coarse tasks keep both cores busy without a fork and join per small product. Queries go in
/// blocks, each block scoring only the keys up to its last row, so the masked upper triangle is
/// mostly never computed.
public enum Attention {
  static let queryBlock = 128

  /// `qkv` is `[rows, (H + 2·KV)·D]` (queries, then keys, then values, already rotated);
  /// `out` is `[rows, H·D]`. Each segment of rows is one sequence attending only to itself.
  public static func forward(
    qkv: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, segments: [Range<Int>],
    heads: Int, kvHeads: Int, headDim d: Int
  ) {
    let stride = (heads + 2 * kvHeads) * d
    let group = heads / kvHeads
    let scale = 1 / Float(d).squareRoot()
    let longest = segments.map(\.count).max() ?? 0
    let tasks = segments.count * heads
    let next = TaskCounter()
    let workers = min(Parallel.cores, tasks)
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
      let scores = UnsafeMutablePointer<Float>.allocate(
        capacity: max(1, min(queryBlock, longest) * longest))
      defer { scores.deallocate() }
      OpenMP.singleThreaded {
        while let task = next.take(below: tasks) {
          let segment = segments[task / heads]
          let h = task % heads
          let kv = h / group
          let t = segment.count
          let base = qkv + segment.lowerBound * stride
          let q = base + h * d
          let k = base + (heads + kv) * d
          let v = base + (heads + kvHeads + kv) * d
          let o = out + segment.lowerBound * heads * d + h * d
          var first = 0
          while first < t {
            let last = min(t, first + queryBlock)
            let rows = last - first
            // scores[rows, last] = q[first..<last] · k[0..<last]ᵀ
            MatMul.gemm(
              transposeA: false, transposeB: true, m: rows, n: last, k: d, a: q + first * stride,
              lda: stride, b: k, ldb: stride, c: scores, ldc: last)
            Kernels.causalSoftmax(
              scores, rows: rows, columns: last, firstPosition: first, scale: scale)
            // out[first..<last] = probabilities · v[0..<last]
            MatMul.gemm(
              transposeA: false, transposeB: false, m: rows, n: d, k: last, a: scores, lda: last,
              b: v, ldb: stride, c: o + first * heads * d, ldc: heads * d)
            first = last
          }
        }
      }
    }
  }
}

/// Hands out task numbers to worker threads.
final class TaskCounter: @unchecked Sendable {
  let lock = NSLock()
  var value = 0

  func take(below limit: Int) -> Int? {
    lock.lock()
    defer { lock.unlock() }
    guard value < limit else { return nil }
    value += 1
    return value - 1
  }
}
