import Foundation
import Tensors

/// Causal grouped-query attention over sequences laid end to end in one buffer.
///
/// Work is spread over the cores by (sequence, head), each product running single-threaded:
/// coarse tasks keep both cores busy without a fork and join per small product. Queries go in
/// blocks, each block scoring only the keys up to its last row, so the masked upper triangle is
/// mostly never computed. A sequence with a prefix first attends to all of the prefix's rows.
public enum Attention {
  static let queryBlock = 128

  /// `qkv` is `[rows, (H + 2·KV)·D]` (queries, then keys, then values, already rotated);
  /// `out` is `[rows, H·D]`. `scale` multiplies the scores (default 1/√D; Gemma's
  /// `query_pre_attn_scalar` gives another); `softcap` applies `cap·tanh(s/cap)` to the scaled
  /// scores before the mask (Gemma 2); `window` (attend to the last `window` positions only) is
  /// the parameter families will pass once the kernel implements it; today only nil is accepted.
  public static func forward(
    qkv: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, batch: Batch,
    heads: Int, kvHeads: Int, headDim d: Int,
    scale: Float? = nil, window: Int? = nil, softcap: Float? = nil
  ) {
    precondition(window == nil, "sliding windows are not implemented in attention yet")
    let stride = (heads + 2 * kvHeads) * d
    let group = heads / kvHeads
    let scale = scale ?? 1 / Float(d).squareRoot()
    let segments = batch.segments
    let tasks = segments.count * heads
    let next = TaskCounter()
    let widest =
      segments.indices.map { s in
        segments[s].count + (batch.prefixes[s].map { segments[$0].count } ?? 0)
      }.max() ?? 0
    DispatchQueue.concurrentPerform(iterations: min(Parallel.cores, tasks)) { _ in
      let scores = UnsafeMutablePointer<Float>.allocate(
        capacity: max(1, queryBlock * widest))
      defer { scores.deallocate() }
      OpenMP.singleThreaded {
        while let task = next.take(below: tasks) {
          let s = task / heads
          let h = task % heads
          let kv = h / group
          let own = segments[s]
          let prefix = batch.prefixes[s].map { segments[$0] } ?? 0..<0
          let t = own.count
          let p = prefix.count
          let q = qkv + own.lowerBound * stride + h * d
          let k = qkv + own.lowerBound * stride + (heads + kv) * d
          let v = qkv + own.lowerBound * stride + (heads + kvHeads + kv) * d
          let pk = qkv + prefix.lowerBound * stride + (heads + kv) * d
          let pv = qkv + prefix.lowerBound * stride + (heads + kvHeads + kv) * d
          let o = out + own.lowerBound * heads * d + h * d
          var first = 0
          while first < t {
            let last = min(t, first + queryBlock)
            let rows = last - first
            let width = p + last
            probabilities(
              q: q, k: k, prefixKeys: pk, prefix: p, first: first, last: last, stride: stride,
              headDim: d, scale: scale, softcap: softcap, into: scores)
            // out[first..<last] = probabilities · [prefix values; own values]
            if p > 0 {
              MatMul.gemm(
                transposeA: false, transposeB: false, m: rows, n: d, k: p, a: scores,
                lda: width, b: pv, ldb: stride, c: o + first * heads * d, ldc: heads * d)
            }
            MatMul.gemm(
              transposeA: false, transposeB: false, m: rows, n: d, k: last, a: scores + p,
              lda: width, b: v, ldb: stride, beta: p > 0 ? 1 : 0, c: o + first * heads * d,
              ldc: heads * d)
            first = last
          }
        }
      }
    }
  }
}

extension Attention {
  /// `probabilities[rows, p + last]` for query rows `first..<last` of one head: the scores
  /// `q[first..<last] · [prefix keys; own keys 0..<last]ᵀ`, causally soft-maxed. Shared by the
  /// forward and the backward, which recomputes them. With `softcap`, the scaled scores are
  /// capped first, their tanh values going into `tanh` (`[rows, p + last]`) when given.
  @inline(__always)
  static func probabilities(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, prefixKeys pk: UnsafePointer<Float>,
    prefix p: Int, first: Int, last: Int, stride: Int, headDim d: Int, scale: Float,
    softcap: Float? = nil, tanh: UnsafeMutablePointer<Float>? = nil,
    into scores: UnsafeMutablePointer<Float>
  ) {
    let rows = last - first
    let width = p + last
    if p > 0 {
      MatMul.gemm(
        transposeA: false, transposeB: true, m: rows, n: p, k: d,
        a: q + first * stride, lda: stride, b: pk, ldb: stride, c: scores, ldc: width)
    }
    MatMul.gemm(
      transposeA: false, transposeB: true, m: rows, n: last, k: d,
      a: q + first * stride, lda: stride, b: k, ldb: stride, c: scores + p, ldc: width)
    var scale = scale
    if let softcap {
      Kernels.softcap(
        scores, rows: rows, columns: width, firstPosition: p + first, scale: scale, cap: softcap,
        tanh: tanh)
      scale = 1
    }
    Kernels.causalSoftmax(
      scores, rows: rows, columns: width, firstPosition: p + first, scale: scale)
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
