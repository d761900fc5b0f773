import Foundation
import Tensors

/// RMSNorm over each head of q (weight `q`) and of k (weight `k`), in place on projected rows
/// `[rows, (H + 2·KV)·D]` whose q heads and then k heads lie side by side; v is left alone.
/// Computed as transformers' Qwen3RMSNorm: `w · (x / sqrt(mean(x²) + eps))` per head.
struct HeadNorms: QKVStage {
  let q: Tensor  // [D]
  let k: Tensor  // [D]
  let heads: Int
  let kvHeads: Int
  let headDim: Int
  let eps: Float

  var stride: Int { (heads + 2 * kvHeads) * headDim }
  /// The q and k heads before the norm.
  var savedWidth: Int { (heads + kvHeads) * headDim }

  @inline(__always)
  func inverseRMS(_ x: UnsafePointer<Float>) -> Float {
    var sum: Float = 0
    for i in 0..<headDim { sum += x[i] * x[i] }
    return 1 / (sum / Float(headDim) + eps).squareRoot()
  }

  func forward(_ qkv: UnsafeMutablePointer<Float>, rows: Int, saving: Tensor?) {
    let d = headDim
    let width = savedWidth
    Parallel.chunks(rows, grain: max(1, 16384 / max(width, 1))) { range in
      for r in range {
        let row = qkv + r * stride
        saving?.pointer.advanced(by: r * width).update(from: row, count: width)
        for h in 0..<(heads + kvHeads) {
          let x = row + h * d
          let weight = h < heads ? q.pointer : k.pointer
          let scale = inverseRMS(x)
          for i in 0..<d { x[i] = weight[i] * (x[i] * scale) }
        }
      }
    }
  }

  /// Per head, with `s = 1/rms(x)` and `y = w·x·s`:
  ///
  ///     dx = s·(dy·w) − s³·(Σ dy·w·x)/D · x      dw += Σ over heads and rows of dy·x·s
  func backward(
    _ dQKV: UnsafeMutablePointer<Float>, rows: Int, saved: Tensor, gradients: [Tensor]?
  ) {
    let d = headDim
    let width = savedWidth
    // Each chunk's weight gradients (q's, then k's), summed in chunk order afterwards so the
    // result does not depend on which thread finishes first.
    var partials: [Int: [Float]] = [:]
    let lock = NSLock()
    Parallel.chunks(rows, grain: max(1, 16384 / max(width, 1))) { range in
      var partial = [Float](repeating: 0, count: 2 * d)
      partial.withUnsafeMutableBufferPointer { partial in
        for r in range {
          let row = dQKV + r * stride
          let input = saved.pointer + r * width
          for h in 0..<(heads + kvHeads) {
            let x = input + h * d
            let dy = row + h * d
            let weight = h < heads ? q.pointer : k.pointer
            let scale = inverseRMS(x)
            if gradients != nil, let sums = partial.baseAddress {
              let dw = sums + (h < heads ? 0 : d)
              for i in 0..<d { dw[i] += dy[i] * x[i] * scale }
            }
            var dot: Float = 0
            for i in 0..<d { dot += dy[i] * weight[i] * x[i] }
            let correction = scale * scale * scale * dot / Float(d)
            for i in 0..<d { dy[i] = scale * dy[i] * weight[i] - correction * x[i] }
          }
        }
      }
      lock.lock()
      partials[range.lowerBound] = partial
      lock.unlock()
    }
    guard let gradients else { return }
    for start in partials.keys.sorted() {
      let partial = partials[start]!
      for i in 0..<d {
        gradients[0].pointer[i] += partial[i]
        gradients[1].pointer[i] += partial[d + i]
      }
    }
  }
}
