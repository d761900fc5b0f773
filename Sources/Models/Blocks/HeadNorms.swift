import Foundation
import Tensors

/// RMSNorm over each head of q (`q_norm`) and of k (`k_norm`), in place on projected rows
/// `[rows, (H + 2·KV)·D]` whose q heads and then k heads lie side by side, v left alone:
/// between the projection and RoPE (Qwen3, Gemma 3, with Gemma's `1 + w` from the norms' kind).
///
/// Two summations exist, each exactly as its family has always computed it, so outputs and
/// gradients keep their bits; moving one family onto the other changes results in the last
/// place and is a choice of its own:
/// - `perHeadLoop` (Qwen3): each head normed in place, its squares summed one by one, weight
///   gradients summed per chunk of rows in chunk order;
/// - `rowKernel` (Gemma 3): each head group gathered into `[rows·heads, D]` and run through the
///   RMSNorm kernel (vector sums), and back.
final class HeadNorms: @unchecked Sendable {
  enum Summation: Sendable {
    case perHeadLoop, rowKernel
  }

  let query: Norm  // [D]
  let key: Norm  // [D]
  let heads: Int
  let kvHeads: Int
  let summation: Summation

  init(query: Norm, key: Norm, heads: Int, kvHeads: Int, summation: Summation) {
    self.query = query
    self.key = key
    self.heads = heads
    self.kvHeads = kvHeads
    self.summation = summation
  }

  var headDim: Int { query.spec.width }
  var stride: Int { (heads + 2 * kvHeads) * headDim }
  var parameters: [Tensor] { query.parameters + key.parameters }

  /// What the forward keeps: the q and k heads before the norm.
  func saving(rows: Int) -> [Tensor] {
    switch summation {
    case .perHeadLoop: return [Tensor(uninitialized: [rows, (heads + kvHeads) * headDim])]
    case .rowKernel:
      return [
        Tensor(uninitialized: [rows, heads * headDim]),
        Tensor(uninitialized: [rows, kvHeads * headDim]),
      ]
    }
  }

  /// Norms the q and k heads of `qkv` in place, keeping their inputs in `saving` (made by
  /// `saving(rows:)`). Uses scratch slots 5 to 7.
  func forward(
    _ qkv: UnsafeMutablePointer<Float>, rows: Int, saving: [Tensor]?, scratch: Scratch
  ) {
    switch summation {
    case .perHeadLoop: perHeadForward(qkv, rows: rows, saving: saving?[0])
    case .rowKernel:
      let q = saving?[0] ?? scratch(5, [rows, heads * headDim])
      let k = saving?[1] ?? scratch(6, [rows, kvHeads * headDim])
      let normed = scratch(7, [rows, max(heads, kvHeads) * headDim])
      for (offset, count, raw, norm) in [(0, heads, q, query), (heads * headDim, kvHeads, k, key)] {
        let width = count * headDim
        Self.copyColumns(qkv + offset, stride: stride, into: raw.pointer, width: width, rows: rows)
        norm.apply(raw.pointer, out: normed.pointer, rows: rows * count, columns: headDim)
        Self.copyColumns(
          normed.pointer, width: width, into: qkv + offset, stride: stride, rows: rows)
      }
    }
  }

  /// Backward in place on the projection's gradient: dL/d(normed) in, dL/d(projected) out;
  /// weight gradients added into `gradients` (q's, then k's).
  func backward(
    _ dQKV: UnsafeMutablePointer<Float>, rows: Int, saved: [Tensor],
    gradients: (query: Norm.Gradient, key: Norm.Gradient)?
  ) {
    switch summation {
    case .perHeadLoop:
      perHeadBackward(
        dQKV, rows: rows, saved: saved[0],
        gradients: gradients.map { [$0.query.weight!, $0.key.weight!] })
    case .rowKernel:
      for (offset, count, raw, norm, gradient) in [
        (0, heads, saved[0], query, gradients?.query),
        (heads * headDim, kvHeads, saved[1], key, gradients?.key),
      ] {
        let width = count * headDim
        let dNormed = Tensor(uninitialized: [rows, width])  // [rows·heads, D]
        Self.copyColumns(
          dQKV + offset, stride: stride, into: dNormed.pointer, width: width, rows: rows)
        let dRaw = Tensor(zeros: [rows, width])  // [rows·heads, D]
        norm.backward(
          dNormed.pointer, x: raw.pointer, dx: dRaw.pointer, gradient: gradient,
          rows: rows * count, columns: headDim)
        Self.copyColumns(
          dRaw.pointer, width: width, into: dQKV + offset, stride: stride, rows: rows)
      }
    }
  }

  // MARK: Per-head loop

  @inline(__always)
  func inverseRMS(_ x: UnsafePointer<Float>) -> Float {
    var sum: Float = 0
    for i in 0..<headDim { sum += x[i] * x[i] }
    return 1 / (sum / Float(headDim) + query.spec.eps).squareRoot()
  }

  /// `w · (x / sqrt(mean(x²) + eps))` per head, as transformers' Qwen3RMSNorm.
  func perHeadForward(_ qkv: UnsafeMutablePointer<Float>, rows: Int, saving: Tensor?) {
    let d = headDim
    let width = (heads + kvHeads) * d
    let q = query.weight!.pointer
    let k = key.weight!.pointer
    Parallel.chunks(rows, grain: max(1, 16384 / max(width, 1))) { range in
      for r in range {
        let row = qkv + r * stride
        saving?.pointer.advanced(by: r * width).update(from: row, count: width)
        for h in 0..<(heads + kvHeads) {
          let x = row + h * d
          let weight = h < heads ? q : k
          let scale = inverseRMS(x)
          for i in 0..<d { x[i] = weight[i] * (x[i] * scale) }
        }
      }
    }
  }

  /// Per head, with `s = 1/rms(x)` and `y = w·x·s`:
  ///
  ///     dx = s·(dy·w) − s³·(Σ dy·w·x)/D · x      dw += Σ over heads and rows of dy·x·s
  func perHeadBackward(
    _ dQKV: UnsafeMutablePointer<Float>, rows: Int, saved: Tensor, gradients: [Tensor]?
  ) {
    let d = headDim
    let width = (heads + kvHeads) * d
    let q = query.weight!.pointer
    let k = key.weight!.pointer
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
            let weight = h < heads ? q : k
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

  // MARK: Gathering

  /// Copies `width` floats a row from rows `stride` apart into rows `width` apart (a head group
  /// out of the stacked q/k/v), or back with the strides swapped.
  static func copyColumns(
    _ source: UnsafePointer<Float>, stride: Int, into target: UnsafeMutablePointer<Float>,
    width: Int, rows: Int
  ) {
    for r in 0..<rows { (target + r * width).update(from: source + r * stride, count: width) }
  }

  static func copyColumns(
    _ source: UnsafePointer<Float>, width: Int, into target: UnsafeMutablePointer<Float>,
    stride: Int, rows: Int
  ) {
    for r in 0..<rows { (target + r * stride).update(from: source + r * width, count: width) }
  }
}
