import Foundation
import Models
import Tensors

/// Low-rank adapters (LoRA, Hu et al. 2021) on every matrix of one layer: each matrix W
/// (`[n, k]`, a part of the layer's parameter table) runs as `W₀ + s·B·A` with `B` `[n, r]`
/// zero at the start, `A` `[r, k]` random and `s = alpha / r`, and only A and B train.
///
/// The adapters stay merged into the layer's own weights, so the layer runs and backpropagates
/// exactly as it always does: its backward gives dL/dW, from which the adapters' gradients
/// follow by the chain rule, `dL/dB = s·dW·Aᵀ` and `dL/dA = s·Bᵀ·dW` (linear in dW, so the sum
/// over a step's micro-batches projects once). After each optimizer step the change
/// `s·(B·A − B'·A')` is added into W, B'·A' being what was merged before. Any family's layer gets
/// adapters through its parameter table alone, and the weights written at the end are the
/// merged ones, a standard checkpoint. The price is the full dW of each matrix per step (one
/// product of the size of the forward's), where an unmerged adapter computes only dx; the
/// optimizer state, as in LoRA, is the adapters' alone.
final class LowRankAdapters {
  /// One matrix and its adapter: rows `rows` of the layer tensor `weight` (a stacked tensor
  /// holds several matrices by rows) and the same rows of its gradient.
  struct Adapter {
    let weight: UnsafeMutablePointer<Float>  // [n, k] inside the layer's tensor
    let gradient: UnsafePointer<Float>  // [n, k] inside the layer gradient's tensor
    let n: Int
    let k: Int
    let a: Tensor  // [r, k]
    let b: Tensor  // [n, r]
    let aGradient: Tensor  // [r, k]
    let bGradient: Tensor  // [n, r]
    let mergedA: Tensor  // [r, k] the A of what W holds now
    let mergedB: Tensor  // [n, r]
  }

  let adapters: [Adapter]
  let rank: Int
  let scale: Float

  /// Adapters on every two-dimensional part of the entries `entries` of `layer`'s parameter
  /// table (projections; norms and biases have none and stay as they are), their A drawn as
  /// PEFT draws it (uniform in ±1/√k) from `generator`.
  init(
    layer: any DecoderLayer, entries: [Int], gradients: LayerGradients, rank: Int, alpha: Double,
    using generator: inout SplitMix
  ) {
    self.rank = rank
    scale = Float(alpha / Double(rank))
    var adapters: [Adapter] = []
    let table = layer.parameterTable
    for entry in entries {
      let (parameter, gradient) = (table[entry], gradients.table[entry])
      var offset = 0
      for part in parameter.parts {
        let count = part.shape.reduce(1, *)
        defer { offset += count }
        guard part.shape.count == 2 else { continue }
        let (n, k) = (part.shape[0], part.shape[1])
        let a = Tensor(uninitialized: [rank, k])
        let bound = 1 / Float(k).squareRoot()
        for i in 0..<a.count { a.pointer[i] = bound * generator.nextSigned() }
        adapters.append(
          Adapter(
            weight: parameter.tensor.pointer + offset, gradient: gradient.tensor.pointer + offset,
            n: n, k: k, a: a, b: Tensor(zeros: [n, rank]), aGradient: Tensor(zeros: [rank, k]),
            bGradient: Tensor(zeros: [n, rank]), mergedA: a.copy(),
            mergedB: Tensor(zeros: [n, rank])))
      }
    }
    self.adapters = adapters
  }

  /// What trains, in a fixed order, and the gradients `project()` leaves beside it.
  var parameters: [Tensor] { adapters.flatMap { [$0.a, $0.b] } }
  var gradients: [Tensor] { adapters.flatMap { [$0.aGradient, $0.bGradient] } }

  /// The adapters' gradients from the layer's weight gradients: `dB = s·dW·Aᵀ`, `dA = s·Bᵀ·dW`.
  func project() {
    let r = rank
    for adapter in adapters {
      MatMul.gemm(
        transposeA: false, transposeB: true, m: adapter.n, n: r, k: adapter.k, alpha: scale,
        a: adapter.gradient, lda: adapter.k, b: adapter.a.pointer, ldb: adapter.k,
        c: adapter.bGradient.pointer, ldc: r)
      MatMul.gemm(
        transposeA: true, transposeB: false, m: r, n: adapter.k, k: adapter.n, alpha: scale,
        a: adapter.b.pointer, lda: r, b: adapter.gradient, ldb: adapter.k,
        c: adapter.aGradient.pointer, ldc: adapter.k)
    }
  }

  /// Brings the layer's weights to `W₀ + s·B·A` for the adapters as they are now.
  func merge() {
    let r = rank
    for adapter in adapters {
      MatMul.gemm(
        transposeA: false, transposeB: false, m: adapter.n, n: adapter.k, k: r, alpha: -scale,
        a: adapter.mergedB.pointer, lda: r, b: adapter.mergedA.pointer, ldb: adapter.k, beta: 1,
        c: adapter.weight, ldc: adapter.k)
      MatMul.gemm(
        transposeA: false, transposeB: false, m: adapter.n, n: adapter.k, k: r, alpha: scale,
        a: adapter.b.pointer, lda: r, b: adapter.a.pointer, ldb: adapter.k, beta: 1,
        c: adapter.weight, ldc: adapter.k)
      adapter.mergedA.pointer.update(from: adapter.a.pointer, count: adapter.a.count)
      adapter.mergedB.pointer.update(from: adapter.b.pointer, count: adapter.b.count)
    }
  }
}
