import Foundation
import Tensors

/// Causal grouped-query attention over sequences laid end to end in one buffer.
///
/// Work is spread over the cores by (sequence, head), each product running single-threaded:
/// coarse tasks keep both cores busy without a fork and join per small product. Queries go in
/// blocks, each block scoring only the keys up to its last row (and, with a sliding window, from
/// the first key its first row still sees), so masked keys are mostly never computed. A sequence
/// with a prefix attends to the prefix's rows before its own, as one sequence would.
public enum Attention {
  static let queryBlock = 128

  /// `qkv` is `[rows, (H + 2·KV)·D]` (queries, then keys, then values, already rotated);
  /// `out` is `[rows, H·D]`. `scale` multiplies the scores (default 1/√D; Gemma's
  /// `query_pre_attn_scalar` gives another); `window` makes it sliding-window attention as
  /// transformers masks it: a query at (prefix-extended) position i attends to keys j with
  /// `i − window < j ≤ i`; `softcap` applies `cap·tanh(s/cap)` to the scaled scores before the mask (Gemma 2).
  public static func forward(
    qkv: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, batch: Batch,
    heads: Int, kvHeads: Int, headDim d: Int,
    scale: Float? = nil, window: Int? = nil, softcap: Float? = nil
  ) {
    precondition(window.map { $0 > 0 } ?? true, "an attention window must be positive")
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
            let keys = BlockKeys(prefix: p, first: first, last: last, window: window)
            probabilities(
              q: q, k: k, prefixKeys: pk, keys: keys, first: first, stride: stride,
              headDim: d, scale: scale, softcap: softcap, into: scores)
            // out[first..<last] = probabilities · [prefix values; own values], in window
            if keys.prefixCount > 0 {
              MatMul.gemm(
                transposeA: false, transposeB: false, m: rows, n: d, k: keys.prefixCount,
                a: scores, lda: keys.width, b: pv + keys.prefixFrom * stride, ldb: stride,
                c: o + first * heads * d, ldc: heads * d)
            }
            MatMul.gemm(
              transposeA: false, transposeB: false, m: rows, n: d, k: keys.ownCount,
              a: scores + keys.prefixCount, lda: keys.width, b: v + keys.ownFrom * stride,
              ldb: stride, beta: keys.prefixCount > 0 ? 1 : 0, c: o + first * heads * d,
              ldc: heads * d)
            first = last
          }
        }
      }
    }
  }
}

/// The keys a block of query rows `first..<last` of one sequence attends to, in the sequence's
/// prefix-extended numbering (its prefix's `p` rows, then its own): everything up to the
/// block's last row, or with a window only the keys some row of the block can still see, so key
/// blocks wholly outside the window are never computed. Scores are laid out `[rows, width]`:
/// the prefix's keys `prefixFrom..<p`, then the sequence's own keys `ownFrom..<last`.
struct BlockKeys {
  /// The first key any row of the block attends to (prefix-extended index).
  let start: Int
  let prefixFrom: Int
  let prefixCount: Int
  let ownFrom: Int
  let ownCount: Int
  /// The position of query row `first` (prefix-extended).
  let firstPosition: Int
  /// Query rows in the block.
  let rows: Int
  let window: Int?

  init(prefix p: Int, first: Int, last: Int, window: Int?) {
    firstPosition = p + first
    // transformers' sliding window: a query at position i sees keys j with i − j < window.
    start = window.map { max(0, p + first - $0 + 1) } ?? 0
    prefixFrom = min(start, p)
    prefixCount = p - prefixFrom
    ownFrom = max(0, start - p)
    ownCount = last - ownFrom
    rows = last - first
    self.window = window
  }

  var width: Int { prefixCount + ownCount }

  /// Columns `from..<to` of score row `r` are the keys that row attends to.
  @inline(__always)
  func columns(row r: Int) -> (from: Int, to: Int) {
    let position = firstPosition + r
    let from = window.map { max(start, position - $0 + 1) } ?? start
    return (from - start, position - start + 1)
  }
}

extension Attention {
  /// `probabilities[keys.rows, keys.width]` for the block's query rows `first..<` of one head: the
  /// scores `q · [prefix keys; own keys]ᵀ` over the block's keys, soft-maxed over the keys each
  /// row attends to (zero elsewhere). Shared by the forward and the backward, which recomputes
  /// them. With `softcap`, the scaled scores are capped first (`cap·tanh(s/cap)`, Gemma 2), their
  /// tanh values going into `tanh` (`[rows, width]`) when given.
  @inline(__always)
  static func probabilities(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, prefixKeys pk: UnsafePointer<Float>,
    keys: BlockKeys, first: Int, stride: Int, headDim d: Int, scale: Float,
    softcap: Float? = nil, tanh: UnsafeMutablePointer<Float>? = nil,
    into scores: UnsafeMutablePointer<Float>
  ) {
    let blockRows = keys.rows
    let width = keys.width
    if keys.prefixCount > 0 {
      MatMul.gemm(
        transposeA: false, transposeB: true, m: blockRows, n: keys.prefixCount, k: d,
        a: q + first * stride, lda: stride, b: pk + keys.prefixFrom * stride, ldb: stride,
        c: scores, ldc: width)
    }
    MatMul.gemm(
      transposeA: false, transposeB: true, m: blockRows, n: keys.ownCount, k: d,
      a: q + first * stride, lda: stride, b: k + keys.ownFrom * stride, ldb: stride,
      c: scores + keys.prefixCount, ldc: width)
    var scale = scale
    if let softcap {
      Kernels.softcap(
        scores, rows: blockRows, columns: width, firstPosition: keys.firstPosition - keys.start,
        scale: scale, cap: softcap, tanh: tanh)
      scale = 1
    }
    softmax(scores, rows: blockRows, keys: keys, scale: scale)
  }

  /// Soft-max of each score row over the keys it attends to, zero elsewhere.
  @inline(__always)
  static func softmax(
    _ scores: UnsafeMutablePointer<Float>, rows: Int, keys: BlockKeys, scale: Float
  ) {
    guard keys.window != nil else {
      Kernels.causalSoftmax(
        scores, rows: rows, columns: keys.width, firstPosition: keys.firstPosition - keys.start,
        scale: scale)
      return
    }
    for r in 0..<rows {
      let row = scores + r * keys.width
      let (from, to) = keys.columns(row: r)
      row.update(repeating: 0, count: from)
      Kernels.causalSoftmax(
        row + from, rows: 1, columns: keys.width - from, firstPosition: to - from - 1,
        scale: scale)
    }
  }

  /// Backward of `softmax`, in place: dL/dprobabilities in, dL/d(raw scores) out.
  @inline(__always)
  static func softmaxBackward(
    _ gradient: UnsafeMutablePointer<Float>, probabilities: UnsafePointer<Float>, rows: Int,
    keys: BlockKeys, scale: Float
  ) {
    guard keys.window != nil else {
      Kernels.causalSoftmaxBackward(
        gradient, probabilities: probabilities, rows: rows, columns: keys.width,
        firstPosition: keys.firstPosition - keys.start, scale: scale)
      return
    }
    for r in 0..<rows {
      let offset = r * keys.width
      let (from, to) = keys.columns(row: r)
      (gradient + offset).update(repeating: 0, count: from)
      Kernels.causalSoftmaxBackward(
        gradient + offset + from, probabilities: probabilities + offset + from, rows: 1,
        columns: keys.width - from, firstPosition: to - from - 1, scale: scale)
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
