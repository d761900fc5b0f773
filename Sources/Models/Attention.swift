import Tensors

/// Causal grouped-query attention over sequences laid end to end in one buffer.
public enum Attention {
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
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(1, longest * longest))
    defer { scores.deallocate() }
    for segment in segments {
      let t = segment.count
      let base = qkv + segment.lowerBound * stride
      for h in 0..<heads {
        let kv = h / group
        let q = base + h * d
        let k = base + (heads + kv) * d
        let v = base + (heads + kvHeads + kv) * d
        // scores[t, t] = q · kᵀ / √d, then causal softmax.
        MatMul.gemm(
          transposeA: false, transposeB: true, m: t, n: t, k: d, alpha: scale, a: q, lda: stride,
          b: k, ldb: stride, c: scores, ldc: t)
        Kernels.causalSoftmax(scores, size: t)
        // out_h[t, d] = softmax · v
        MatMul.gemm(
          transposeA: false, transposeB: false, m: t, n: d, k: t, a: scores, lda: t, b: v,
          ldb: stride, c: out + segment.lowerBound * heads * d + h * d, ldc: heads * d)
      }
    }
  }
}
