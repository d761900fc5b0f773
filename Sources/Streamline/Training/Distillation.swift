import Foundation
import Models
import Tensors

/// Distillation at the top of the decoder: KL(original ‖ pruned) between the next-token
/// distributions of the original model (from its final residual state h_L) and of the pruned
/// model, temperature 1, averaged over rows:
///
///     L = (1/rows) Σ_t Σ_v p_t(v) · (log p_t(v) − log q_t(v)),   p = softmax(head(h_L)),
///     q = softmax(head(x));   dL/d(student logits) = (q − p) / rows.
///
/// Rows go in chunks so neither `[rows, V]` logits nor their gradient is ever held whole; the
/// teacher logits are recomputed chunk by chunk from h_L (a head forward), never stored.
public enum Distillation {
  /// Rows per chunk: two `[chunk, V]` buffers (teacher, student) of at most 64 MiB each.
  static func chunkRows(vocabulary: Int) -> Int { max(1, (1 << 24) / max(1, vocabulary)) }

  /// The mean KL over `rows` rows of `x` (`[rows, C]`, the pruned model's final residual state)
  /// against `teacher` (`[rows, C]`, the original's). dL/dx is *added* into `dx` when given,
  /// each row's loss weighted by `gradientScale` (default 1 / rows). `teacherHead` computes the
  /// teacher's logits (it may hold bf16 weights: it is never backpropagated through); `head`
  /// the student's (Float32 when `dx` is given).
  public static func compute(
    x: UnsafePointer<Float>, teacher: UnsafePointer<Float>, rows: Int,
    head: any LanguageModelHead, teacherHead: (any LanguageModelHead)? = nil,
    dx: UnsafeMutablePointer<Float>? = nil, gradientScale: Float? = nil
  ) -> Double {
    guard rows > 0 else { return 0 }
    let c = head.hiddenSize
    let vocabulary = head.vocabSize
    let teacherHead = teacherHead ?? head
    let scale = gradientScale ?? 1 / Float(rows)
    let chunk = chunkRows(vocabulary: vocabulary)
    var total = 0.0
    var first = 0
    while first < rows {
      let count = min(chunk, rows - first)
      let teacherLogits = Tensor(uninitialized: [count, vocabulary])  // [count, V]
      _ = teacherHead.forward(teacher + first * c, rows: count, logits: teacherLogits.pointer)
      let logits = Tensor(uninitialized: [count, vocabulary])  // [count, V]
      let saved = head.forward(x + first * c, rows: count, logits: logits.pointer)
      let losses = Tensor(zeros: [count])
      let t = teacherLogits.pointer
      let s = logits.pointer
      let out = losses.pointer
      let wantGradient = dx != nil
      Parallel.chunks(count, grain: 4) { range in
        for r in range {
          out[r] = Float(
            RowSoftmax.klDivergence(
              teacher: t + r * vocabulary, student: s + r * vocabulary, count: vocabulary,
              gradientScale: wantGradient ? scale : nil))
        }
      }
      for r in 0..<count { total += Double(out[r]) }
      if let dx {
        head.backward(saved, x: x + first * c, rows: count, dLogits: s, dx: dx + first * c)
      }
      first += count
    }
    return total / Double(rows)
  }
}
