import Checkpoint
import Evaluation
import Foundation
import Models
import Tensors

/// A layer followed by a fixed linear map of the residual stream, x ← layer(x)·T: the
/// training-free map held in memory where it cannot fold into the layer, so that a block can
/// be measured as the map would compensate it. It is measured, never trained or written.
final class MappedLayer: DecoderLayer, @unchecked Sendable {
  let inner: any DecoderLayer
  let map: Tensor  // [C, C], input feature by output feature

  init(_ inner: any DecoderLayer, map: Tensor) {
    self.inner = inner
    self.map = map
  }

  var hiddenSize: Int { inner.hiddenSize }
  var parameterTable: [LayerParameter] { inner.parameterTable }

  func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext, workspace: Workspace?
  ) {
    inner.forward(x, batch: batch, context: context, workspace: workspace)
    let c = hiddenSize
    let output = Tensor(uninitialized: [batch.rows, c])  // [rows, C] before the map
    output.pointer.update(from: x, count: output.count)
    MatMul.gemm(
      transposeA: false, transposeB: false, m: batch.rows, n: c, k: c, a: output.pointer,
      lda: c, b: map.pointer, ldb: c, c: x, ldc: c)
  }

  func forwardSaving(_ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext)
    -> any SavedActivations
  {
    preconditionFailure("an in-memory map is measured, never trained")
  }

  func backward(
    _ saved: any SavedActivations, gradient: UnsafeMutablePointer<Float>,
    into gradients: LayerGradients?, context: LayerContext
  ) {
    preconditionFailure("an in-memory map is measured, never trained")
  }
}
