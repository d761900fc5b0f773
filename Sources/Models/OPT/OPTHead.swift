import Foundation
import Tensors

/// OPT's part after the last layer: the final LayerNorm (pre-norm models only), `project_out`
/// down to `word_embed_proj_dim` (350m), and the LM head (tied to `embed_tokens`).
public final class OPTHead: LanguageModelHead, @unchecked Sendable {
  /// The final LayerNorm's weight and bias (each nil without affine parameters); nil when the
  /// model has no final norm (post-norm OPT).
  public let norm: (weight: Tensor?, bias: Tensor?)?
  public let eps: Float
  public let projectOut: Linear?  // [P, C]
  public let projection: Linear  // [V, P]

  public init(
    norm: (weight: Tensor?, bias: Tensor?)?, eps: Float, projectOut: Linear?, projection: Linear
  ) {
    self.norm = norm
    self.eps = eps
    self.projectOut = projectOut
    self.projection = projection
  }

  public var hiddenSize: Int { projectOut?.inFeatures ?? projection.inFeatures }
  public var vocabSize: Int { projection.outFeatures }

  final class Saved: HeadActivations {
    let normed: Tensor?  // [rows, C] the final norm's output
    let projected: Tensor?  // [rows, P] project_out's output

    init(normed: Tensor?, projected: Tensor?) {
      self.normed = normed
      self.projected = projected
    }
  }

  public func forward(_ x: UnsafePointer<Float>, rows: Int, logits: UnsafeMutablePointer<Float>)
    -> any HeadActivations
  {
    let c = hiddenSize
    var input = x
    var normed: Tensor?
    if let norm {
      let out = Tensor(uninitialized: [rows, c])  // [rows, C]
      Kernels.layerNorm(
        x, weight: norm.weight?.pointer, bias: norm.bias?.pointer, eps: eps, out: out.pointer,
        rows: rows, columns: c)
      normed = out
      input = UnsafePointer(out.pointer)
    }
    var projected: Tensor?
    if let projectOut {
      let out = Tensor(uninitialized: [rows, projectOut.outFeatures])  // [rows, P]
      projectOut.apply(Linear.Input(input), into: out.pointer, rows: rows)
      projected = out
      input = UnsafePointer(out.pointer)
    }
    projection.apply(Linear.Input(input), into: logits, rows: rows)
    return Saved(normed: normed, projected: projected)
  }

  public func backward(
    _ saved: any HeadActivations, x: UnsafePointer<Float>, rows: Int,
    dLogits: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>
  ) {
    let saved = saved as! Saved
    let c = hiddenSize
    let headInput = saved.projected ?? saved.normed
    let dHeadInput = Tensor(zeros: [rows, projection.inFeatures])  // [rows, P]
    projection.backward(
      x: headInput.map { UnsafePointer($0.pointer) } ?? x, dOut: dLogits, dx: dHeadInput.pointer,
      gradient: nil,
      rows: rows)
    var dNormed = dHeadInput
    if let projectOut {
      dNormed = Tensor(zeros: [rows, c])  // [rows, C]
      projectOut.backward(
        x: saved.normed.map { UnsafePointer($0.pointer) } ?? x, dOut: dHeadInput.pointer,
        dx: dNormed.pointer,
        gradient: nil, rows: rows)
    }
    if let norm {
      Kernels.layerNormBackward(
        dNormed.pointer, x: x, weight: norm.weight?.pointer, eps: eps, dx: dx, dWeight: nil,
        dBias: nil, rows: rows, columns: c)
    } else {
      Kernels.add(dx, dNormed.pointer, count: rows * c)
    }
  }
}
