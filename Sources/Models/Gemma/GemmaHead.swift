import Foundation
import Tensors

/// Gemma's head: `logits = cap · tanh((norm(x)·Wᵀ) / cap)`, the norm being Gemma's
/// `x / rms(x) · (1 + w)` and the soft-cap Gemma 2's `final_logit_softcapping` (none for
/// Gemma 3).
public final class GemmaHead: LanguageModelHead, @unchecked Sendable {
  public let norm: Tensor  // [C] stored as w, applied as 1 + w
  public let projection: Linear  // [V, C]
  public let eps: Float
  public let softcap: Float?

  public init(norm: Tensor, projection: Linear, eps: Float, softcap: Float?) {
    self.norm = norm
    self.projection = projection
    self.eps = eps
    self.softcap = softcap
  }

  public var hiddenSize: Int { projection.inFeatures }
  public var vocabSize: Int { projection.outFeatures }

  final class Saved: HeadActivations {
    let normed: Tensor  // [rows, C] the projection's input
    let tanh: Tensor?  // [rows, V] the soft-cap's tanh values

    init(_ normed: Tensor, tanh: Tensor?) {
      self.normed = normed
      self.tanh = tanh
    }
  }

  public func forward(_ x: UnsafePointer<Float>, rows: Int, logits: UnsafeMutablePointer<Float>)
    -> any HeadActivations
  {
    let c = hiddenSize
    let v = vocabSize
    let normed = Tensor(uninitialized: [rows, c])  // [rows, C]
    Kernels.rmsNorm(
      x, weight: norm.pointer, eps: eps, out: normed.pointer, rows: rows, columns: c,
      weightOffset: 1)
    projection.apply(Linear.Input(normed.pointer), into: logits, rows: rows)
    var tanh: Tensor?
    if let softcap {
      let values = Tensor(uninitialized: [rows, v])  // [rows, V]
      Parallel.chunks(rows, grain: 1) { range in
        Kernels.softcap(
          logits + range.lowerBound * v, rows: range.count, columns: v, firstPosition: v,
          scale: 1, cap: softcap, tanh: values.pointer + range.lowerBound * v)
      }
      tanh = values
    }
    return Saved(normed, tanh: tanh)
  }

  public func backward(
    _ saved: any HeadActivations, x: UnsafePointer<Float>, rows: Int,
    dLogits: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>
  ) {
    let saved = saved as! Saved
    let v = vocabSize
    if let tanh = saved.tanh {
      Parallel.chunks(rows, grain: 1) { range in
        Kernels.softcapBackward(
          dLogits + range.lowerBound * v, tanh: tanh.pointer + range.lowerBound * v,
          rows: range.count, columns: v, firstPosition: v, scale: 1)
      }
    }
    let dNormed = Tensor(zeros: [rows, hiddenSize])  // [rows, C]
    projection.backward(
      x: saved.normed.pointer, dOut: dLogits, dx: dNormed.pointer, gradient: nil, rows: rows)
    Kernels.rmsNormBackward(
      dNormed.pointer, x: x, weight: norm.pointer, eps: eps, dx: dx, dWeight: nil, rows: rows,
      columns: hiddenSize, weightOffset: 1)
  }
}
