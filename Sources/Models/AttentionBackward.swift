import Foundation
import Tensors

extension Attention {
  /// Backward of `forward`. For one head, with `S = q·kᵀ`, `P = causalSoftmax(scale · S)` and
  /// `O = P·v` (keys and values being the prefix's rows, if any, then the sequence's own):
  ///
  ///     dP = dO·vᵀ      dV += Pᵀ·dO
  ///     dS = scale · P ⊙ (dP − rowsum(P ⊙ dP))
  ///     dQ += dS·k      dK += dSᵀ·q
  ///
  /// The probabilities are recomputed block by block by the forward's own code, so nothing of
  /// size `[T, T]` is stored (a 512-token sequence needs two `[128, 512]` blocks per worker).
  /// Key and value heads shared by a group of query heads, and a prefix's rows shared by its
  /// continuations, sum several gradients: tasks go by (sequence with its continuations,
  /// key-value head), so no two threads write the same rows.
  ///
  /// With `window`, each block's products cover only the keys in its window (see `BlockKeys`).
  ///
  /// `qkv` is the forward's input `[rows, (H + 2·KV)·D]` (rotated queries and keys); `dOut` is
  /// `[rows, H·D]`; gradients are *added* into `dQKV`, laid out like `qkv`.
  public static func backward(
    qkv: UnsafePointer<Float>, dOut: UnsafePointer<Float>, dQKV: UnsafeMutablePointer<Float>,
    batch: Batch, heads: Int, kvHeads: Int, headDim d: Int,
    scale: Float? = nil, window: Int? = nil, softcap: Float? = nil
  ) {
    precondition(window.map { $0 > 0 } ?? true, "an attention window must be positive")
    let stride = (heads + 2 * kvHeads) * d
    let outStride = heads * d
    let group = heads / kvHeads
    let scale = scale ?? 1 / Float(d).squareRoot()
    let segments = batch.segments
    // Each sequence that continues none, followed by those that continue it.
    var families: [[Int]] = []
    var family: [Int: Int] = [:]
    for (s, prefix) in batch.prefixes.enumerated() where prefix == nil {
      family[s] = families.count
      families.append([s])
    }
    for (s, prefix) in batch.prefixes.enumerated() {
      if let prefix { families[family[prefix]!].append(s) }
    }
    let widest =
      segments.indices.map { s in
        segments[s].count + (batch.prefixes[s].map { segments[$0].count } ?? 0)
      }.max() ?? 0
    let tasks = families.count * kvHeads
    let blockSize = max(1, queryBlock * widest)

    func run(
      task: Int, probabilities P: UnsafeMutablePointer<Float>,
      dProbabilities dP: UnsafeMutablePointer<Float>, tanh T: UnsafeMutablePointer<Float>?
    ) {
      let kv = task % kvHeads
      for s in families[task / kvHeads] {
        let own = segments[s]
        let prefix = batch.prefixes[s].map { segments[$0] } ?? 0..<0
        let t = own.count
        let p = prefix.count
        let ownBase = own.lowerBound * stride
        let prefixBase = prefix.lowerBound * stride
        let k = qkv + ownBase + (heads + kv) * d  // [t, D], row stride `stride`
        let v = qkv + ownBase + (heads + kvHeads + kv) * d  // [t, D]
        let pk = qkv + prefixBase + (heads + kv) * d  // [p, D]
        let pv = qkv + prefixBase + (heads + kvHeads + kv) * d  // [p, D]
        let dk = dQKV + ownBase + (heads + kv) * d  // [t, D]
        let dv = dQKV + ownBase + (heads + kvHeads + kv) * d  // [t, D]
        let dpk = dQKV + prefixBase + (heads + kv) * d  // [p, D]
        let dpv = dQKV + prefixBase + (heads + kvHeads + kv) * d  // [p, D]
        for h in (kv * group)..<((kv + 1) * group) {
          let q = qkv + ownBase + h * d  // [t, D]
          let dq = dQKV + ownBase + h * d  // [t, D]
          let dO = dOut + own.lowerBound * outStride + h * d  // [t, D], row stride H·D
          var first = 0
          while first < t {
            let last = min(t, first + queryBlock)
            let rows = last - first
            let keys = BlockKeys(prefix: p, first: first, last: last, window: window)
            let width = keys.width
            let (np, no) = (keys.prefixCount, keys.ownCount)
            let pkb = pk + keys.prefixFrom * stride  // [np, D] the block's prefix keys
            let pvb = pv + keys.prefixFrom * stride
            let dpkb = dpk + keys.prefixFrom * stride
            let dpvb = dpv + keys.prefixFrom * stride
            let kb = k + keys.ownFrom * stride  // [no, D] the block's own keys
            let vb = v + keys.ownFrom * stride
            let dkb = dk + keys.ownFrom * stride
            let dvb = dv + keys.ownFrom * stride
            let qb = q + first * stride  // [rows, D]
            let dqb = dq + first * stride  // [rows, D]
            let dOb = dO + first * outStride  // [rows, D]
            // P[rows, width], exactly as the forward computes it.
            probabilities(
              q: q, k: k, prefixKeys: pk, keys: keys, first: first, stride: stride,
              headDim: d, scale: scale, softcap: softcap, tanh: T, into: P)
            // dP[rows, width] = dO · [prefix values; own values]ᵀ over the block's keys
            if np > 0 {
              MatMul.gemm(
                transposeA: false, transposeB: true, m: rows, n: np, k: d, a: dOb,
                lda: outStride, b: pvb, ldb: stride, c: dP, ldc: width)
            }
            MatMul.gemm(
              transposeA: false, transposeB: true, m: rows, n: no, k: d, a: dOb,
              lda: outStride, b: vb, ldb: stride, c: dP + np, ldc: width)
            // [dpv; dv] += Pᵀ · dO
            if np > 0 {
              MatMul.gemm(
                transposeA: true, transposeB: false, m: np, n: d, k: rows, a: P, lda: width,
                b: dOb, ldb: outStride, beta: 1, c: dpvb, ldc: stride)
            }
            MatMul.gemm(
              transposeA: true, transposeB: false, m: no, n: d, k: rows, a: P + np, lda: width,
              b: dOb, ldb: outStride, beta: 1, c: dvb, ldc: stride)
            // dS[rows, width] (raw scores), in place of dP.
            softmaxBackward(
              dP, probabilities: P, rows: rows, keys: keys, scale: T == nil ? scale : 1)
            if let T {
              // Through the soft-cap (Gemma 2): dS · (1 − tanh²) · scale.
              Kernels.softcapBackward(
                dP, tanh: T, rows: rows, columns: keys.width,
                firstPosition: keys.firstPosition - keys.start, scale: scale)
            }
            // dq[first..<last] += dS · [prefix keys; own keys]
            if np > 0 {
              MatMul.gemm(
                transposeA: false, transposeB: false, m: rows, n: d, k: np, a: dP, lda: width,
                b: pkb, ldb: stride, beta: 1, c: dqb, ldc: stride)
            }
            MatMul.gemm(
              transposeA: false, transposeB: false, m: rows, n: d, k: no, a: dP + np,
              lda: width, b: kb, ldb: stride, beta: 1, c: dqb, ldc: stride)
            // [dpk; dk] += dSᵀ · q[first..<last]
            if np > 0 {
              MatMul.gemm(
                transposeA: true, transposeB: false, m: np, n: d, k: rows, a: dP, lda: width,
                b: qb, ldb: stride, beta: 1, c: dpkb, ldc: stride)
            }
            MatMul.gemm(
              transposeA: true, transposeB: false, m: no, n: d, k: rows, a: dP + np,
              lda: width, b: qb, ldb: stride, beta: 1, c: dkb, ldc: stride)
            first = last
          }
        }
      }
    }

    guard tasks > 0 else { return }
    if tasks < Parallel.cores {
      // Too few tasks to spread: one after another, each product threaded by oneDNN.
      let P = UnsafeMutablePointer<Float>.allocate(capacity: blockSize)  // [128, widest]
      let dP = UnsafeMutablePointer<Float>.allocate(capacity: blockSize)  // [128, widest]
      let T = softcap.map { _ in UnsafeMutablePointer<Float>.allocate(capacity: blockSize) }
      defer {
        P.deallocate()
        dP.deallocate()
        T?.deallocate()
      }
      for task in 0..<tasks { run(task: task, probabilities: P, dProbabilities: dP, tanh: T) }
      return
    }
    let next = TaskCounter()
    DispatchQueue.concurrentPerform(iterations: Parallel.cores) { _ in
      let P = UnsafeMutablePointer<Float>.allocate(capacity: blockSize)  // [128, widest]
      let dP = UnsafeMutablePointer<Float>.allocate(capacity: blockSize)  // [128, widest]
      let T = softcap.map { _ in UnsafeMutablePointer<Float>.allocate(capacity: blockSize) }
      defer {
        P.deallocate()
        dP.deallocate()
        T?.deallocate()
      }
      OpenMP.singleThreaded {
        while let task = next.take(below: tasks) {
          run(task: task, probabilities: P, dProbabilities: dP, tanh: T)
        }
      }
    }
  }
}
