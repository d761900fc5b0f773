import Checkpoint
import Foundation
import Tensors

/// The part of a model after its last decoder layer, residual stream to logits: the final norm
/// and the LM head, with whatever else a family puts there (OPT's `project_out`, Gemma 2's
/// final-logit soft-capping). The language-model loss backpropagates through it, so it has a
/// backward too (input gradient; the head itself is frozen in generic training).
public protocol LanguageModelHead: AnyObject, Sendable {
  /// Width of the residual stream, C.
  var hiddenSize: Int { get }
  var vocabSize: Int { get }

  /// `[rows, V]` logits of the residual-stream rows `x` (`[rows, C]`), returning what
  /// `backward` needs.
  func forward(_ x: UnsafePointer<Float>, rows: Int, logits: UnsafeMutablePointer<Float>)
    -> any HeadActivations

  /// Backward of `forward`: adds dL/dx into `dx` (`[rows, C]`) for the logits' gradient
  /// `dLogits` (`[rows, V]`, which the call may overwrite). Needs Float32 weights.
  func backward(
    _ saved: any HeadActivations, x: UnsafePointer<Float>, rows: Int,
    dLogits: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>)
}

/// What a head's forward keeps for its backward.
public protocol HeadActivations: AnyObject {}

/// The head of the RMSNorm families: `logits = rms_norm(x)·Wᵀ`, with the norm computed as
/// `x / sqrt(mean(x²) + eps) · weight`. (Gemma's `x·(1+w)` norm needs its own kernel or a
/// `1 + w` weight made at load time; OPT's LayerNorm with bias is a head of its own.)
public final class RMSNormHead: LanguageModelHead, @unchecked Sendable {
  public let norm: Tensor  // [C]
  public let projection: Linear  // [V, C]
  public let eps: Float

  public init(norm: Tensor, projection: Linear, eps: Float) {
    self.norm = norm
    self.projection = projection
    self.eps = eps
  }

  public var hiddenSize: Int { projection.inFeatures }
  public var vocabSize: Int { projection.outFeatures }

  /// The head a checkpoint stores as the final RMSNorm weight `norm` and the output
  /// projection `weight` (`[vocabSize, hiddenSize]`, no bias).
  public static func load(
    norm: String, weight: String, hiddenSize: Int, vocabSize: Int, eps: Float,
    from folder: ModelFolder, precision: Precision
  ) throws -> RMSNormHead {
    RMSNormHead(
      norm: try folder.float(norm, shape: [hiddenSize]),
      projection: try Linear.load(
        stacking: [weight], outFeatures: [vocabSize], inFeatures: hiddenSize, biases: [nil],
        from: folder, precision: precision),
      eps: eps)
  }

  /// A head of random weights and a unit norm.
  public static func random(
    hiddenSize: Int, vocabSize: Int, eps: Float, precision: Precision,
    using generator: inout SplitMix
  ) -> RMSNormHead {
    RMSNormHead(
      norm: Tensor(shape: [hiddenSize], values: .init(repeating: 1, count: hiddenSize)),
      projection: Linear.random(
        outFeatures: vocabSize, inFeatures: hiddenSize, bias: false, precision: precision,
        using: &generator),
      eps: eps)
  }

  final class Saved: HeadActivations {
    let normed: Tensor  // [rows, C] the projection's input

    init(_ normed: Tensor) { self.normed = normed }
  }

  public func forward(_ x: UnsafePointer<Float>, rows: Int, logits: UnsafeMutablePointer<Float>)
    -> any HeadActivations
  {
    let c = hiddenSize
    let normed = Tensor(uninitialized: [rows, c])  // [rows, C]
    Kernels.rmsNorm(x, weight: norm.pointer, eps: eps, out: normed.pointer, rows: rows, columns: c)
    projection.apply(Linear.Input(normed.pointer), into: logits, rows: rows)
    return Saved(normed)
  }

  public func backward(
    _ saved: any HeadActivations, x: UnsafePointer<Float>, rows: Int,
    dLogits: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>
  ) {
    backward(
      saved, x: x, rows: rows, dLogits: dLogits, dx: dx, normGradient: nil,
      projectionGradient: nil)
  }

  /// `backward` with the head's own parameter gradients added into `normGradient` and
  /// `projectionGradient` (each nil when not wanted).
  public func backward(
    _ saved: any HeadActivations, x: UnsafePointer<Float>, rows: Int,
    dLogits: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>?,
    normGradient: Tensor?, projectionGradient: LinearGradient?
  ) {
    let normed = (saved as! Saved).normed
    let needNormed = dx != nil || normGradient != nil
    let dNormed = needNormed ? Tensor(zeros: [rows, hiddenSize]) : nil  // [rows, C]
    projection.backward(
      x: normed.pointer, dOut: dLogits, dx: dNormed?.pointer, gradient: projectionGradient,
      rows: rows)
    if let dNormed {
      Kernels.rmsNormBackward(
        dNormed.pointer, x: x, weight: norm.pointer, eps: eps, dx: dx,
        dWeight: normGradient?.pointer, rows: rows, columns: hiddenSize)
    }
  }
}
