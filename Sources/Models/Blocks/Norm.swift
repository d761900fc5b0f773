import Checkpoint
import Tensors

/// One normalisation of a block with its weights: RMSNorm (Gemma's scaling by `1 + w` is
/// `offset` 1) or LayerNorm with or without affine parameters (OPT).
public final class Norm: @unchecked Sendable {
  public enum Kind: Sendable {
    case rms(offset: Float)
    case layer(affine: Bool)
  }

  /// What the norm is, from the config: its checkpoint name without `.weight` / `.bias`, its
  /// width, kind and eps.
  public struct Spec: Sendable {
    public let name: String
    public let width: Int
    public let kind: Kind
    public let eps: Float

    public init(_ name: String, width: Int, kind: Kind, eps: Float) {
      self.name = name
      self.width = width
      self.kind = kind
      self.eps = eps
    }

    /// The weight's table entry, then the bias's (LayerNorm); none when not affine.
    var tableParts: [[(name: String, shape: [Int])]] {
      switch kind {
      case .rms: return [[(name + ".weight", [width])]]
      case .layer(let affine):
        return affine ? [[(name + ".weight", [width])], [(name + ".bias", [width])]] : []
      }
    }

    func load(prefix: String, from folder: ModelFolder) throws -> Norm {
      let tensors = try tableParts.map { try folder.float(prefix + $0[0].name, shape: [width]) }
      return Norm(self, weight: tensors.first, bias: tensors.dropFirst().first)
    }

    /// The identity scale: ones, or zeros where the scale is `1 + w`; LayerNorm's bias zero.
    func identity() -> Norm {
      switch kind {
      case .rms(let offset):
        return Norm(
          self, weight: Tensor(shape: [width], values: .init(repeating: 1 - offset, count: width)))
      case .layer(let affine):
        guard affine else { return Norm(self, weight: nil) }
        return Norm(
          self, weight: Tensor(shape: [width], values: .init(repeating: 1, count: width)),
          bias: Tensor(zeros: [width]))
      }
    }
  }

  public let spec: Spec
  public var weight: Tensor?  // [width]
  public var bias: Tensor?  // [width] LayerNorm only

  public init(_ spec: Spec, weight: Tensor?, bias: Tensor? = nil) {
    self.spec = spec
    self.weight = weight
    self.bias = bias
  }

  /// The stored tensors in table order.
  var parameters: [Tensor] { [weight, bias].compactMap { $0 } }

  /// `out = norm(x)` over `rows` rows of `columns` (the width unless the norm runs per head);
  /// `out` may be `x`.
  func apply(
    _ x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, rows: Int,
    columns: Int? = nil
  ) {
    let columns = columns ?? spec.width
    switch spec.kind {
    case .rms(let offset):
      Kernels.rmsNorm(
        x, weight: weight!.pointer, eps: spec.eps, out: out, rows: rows, columns: columns,
        weightOffset: offset)
    case .layer:
      Kernels.layerNorm(
        x, weight: weight?.pointer, bias: bias?.pointer, eps: spec.eps, out: out, rows: rows,
        columns: columns)
    }
  }

  /// Backward of `apply` from its input `x`: the input gradient is added into `dx`, the
  /// parameter gradients into `gradient`'s (when given; made by `GradientCursor.next(for:)`).
  func backward(
    _ dOut: UnsafePointer<Float>, x: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
    gradient: Gradient?, rows: Int, columns: Int? = nil
  ) {
    let columns = columns ?? spec.width
    switch spec.kind {
    case .rms(let offset):
      Kernels.rmsNormBackward(
        dOut, x: x, weight: weight!.pointer, eps: spec.eps, dx: dx,
        dWeight: gradient?.weight?.pointer, rows: rows, columns: columns, weightOffset: offset)
    case .layer:
      Kernels.layerNormBackward(
        dOut, x: x, weight: weight?.pointer, eps: spec.eps, dx: dx,
        dWeight: gradient?.weight?.pointer, dBias: gradient?.bias?.pointer, rows: rows,
        columns: columns)
    }
  }

  /// The gradients of a norm's parameters, laid out as `parameters`.
  struct Gradient {
    let weight: Tensor?
    let bias: Tensor?
  }
}
