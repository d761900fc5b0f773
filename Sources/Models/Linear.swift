import Checkpoint
import Tensors

/// A Linear layer `y = x·Wᵀ + b` with its weight in Hugging Face's `[out, in]` layout, held in
/// the precision the matrix products use: the precision asked for as this CPU runs it
/// (`Precision.effective`), so a bf16 request on a CPU without native bf16 products holds the
/// weights widened to Float32.
public final class Linear: @unchecked Sendable {
  public enum Storage {
    case f32(Tensor)
    case bf16(BF16Tensor)
  }

  public let outFeatures: Int
  public let inFeatures: Int
  public var weight: Storage
  public var bias: Tensor?

  public init(weight: Storage, bias: Tensor?, outFeatures: Int, inFeatures: Int) {
    self.weight = weight
    self.bias = bias
    self.outFeatures = outFeatures
    self.inFeatures = inFeatures
  }

  /// Loads and stacks the weights (and biases) of several Linear layers that read the same
  /// input, so one matrix product serves them all (q/k/v; gate/up). Missing biases are zero.
  public static func load(
    stacking names: [String], outFeatures: [Int], inFeatures: Int, biases: [String?],
    from folder: ModelFolder, precision: Precision
  ) throws -> Linear {
    let total = outFeatures.reduce(0, +)
    let storage: Storage
    switch precision.effective {
    case .f32:
      let stacked = Tensor(uninitialized: [total, inFeatures])
      var row = 0
      for (name, rows) in zip(names, outFeatures) {
        let part = try folder.float(name, shape: [rows, inFeatures])
        stacked.row(row).update(from: part.pointer, count: part.count)
        row += rows
      }
      storage = .f32(stacked)
    case .bf16:
      let stacked = BF16Tensor(uninitialized: [total, inFeatures])
      var offset = 0
      for (name, rows) in zip(names, outFeatures) {
        let part = try folder.bf16(name, shape: [rows, inFeatures])
        (stacked.pointer + offset).update(from: part.pointer, count: part.count)
        offset += part.count
      }
      storage = .bf16(stacked)
    }
    var bias: Tensor?
    if biases.contains(where: { $0 != nil }) {
      let stacked = Tensor(zeros: [total])
      var offset = 0
      for (name, rows) in zip(biases, outFeatures) {
        if let name {
          let part = try folder.float(name, shape: [rows])
          (stacked.pointer + offset).update(from: part.pointer, count: rows)
        }
        offset += rows
      }
      bias = stacked
    }
    return Linear(weight: storage, bias: bias, outFeatures: total, inFeatures: inFeatures)
  }

  /// `out[rows, outFeatures] (+)= x[rows, inFeatures]·Wᵀ + b`. In bf16 the input is rounded to
  /// bf16 first (`scratch` holds it, so several layers reading one input convert it once).
  public func apply(
    _ x: Input, into out: UnsafeMutablePointer<Float>, rows: Int, accumulate: Bool = false
  ) {
    switch weight {
    case .f32(let w):
      MatMul.linear(
        x.f32, w.pointer, out, m: rows, n: outFeatures, k: inFeatures, operands: .f32,
        accumulate: accumulate)
    case .bf16(let w):
      MatMul.linear(
        x.bf16(rows: rows, columns: inFeatures), w.pointer, out, m: rows, n: outFeatures,
        k: inFeatures, operands: .bf16, accumulate: accumulate)
    }
    if let bias { Kernels.addBias(out, bias: bias.pointer, rows: rows, columns: outFeatures) }
  }

  /// The input of a Linear, converted to bf16 at most once however many layers read it.
  public final class Input {
    public let f32: UnsafePointer<Float>
    var converted: UnsafeMutablePointer<UInt16>?

    public init(_ x: UnsafePointer<Float>) { f32 = x }
    deinit { converted?.deallocate() }

    func bf16(rows: Int, columns: Int) -> UnsafeMutablePointer<UInt16> {
      if let converted { return converted }
      let buffer = UnsafeMutablePointer<UInt16>.allocate(capacity: rows * columns)
      Kernels.toBF16(f32, out: buffer, count: rows * columns)
      converted = buffer
      return buffer
    }
  }
}

/// The gradient of a Linear layer's parameters, in the layout of the layer (`[out, in]`, and
/// `[out]` when it has a bias).
public final class LinearGradient: @unchecked Sendable {
  public let weight: Tensor  // [out, in]
  public let bias: Tensor?  // [out]

  /// Zeros shaped like `linear`'s parameters.
  public init(zerosFor linear: Linear) {
    weight = Tensor(zeros: [linear.outFeatures, linear.inFeatures])
    bias = linear.bias.map { Tensor(zeros: $0.shape) }
  }

  /// Views of gradient tensors kept elsewhere (a layer's gradients laid out by its table).
  public init(weight: Tensor, bias: Tensor?) {
    self.weight = weight
    self.bias = bias
  }

  public func zero() {
    weight.data.update(repeating: 0)
    bias?.data.update(repeating: 0)
  }

  /// The gradient tensors, in the order `Linear.parameters` lists the parameters.
  public var tensors: [Tensor] { [weight] + (bias.map { [$0] } ?? []) }
}

extension Linear {
  /// The Float32 weight; training and backward passes compute in Float32.
  public var f32Weight: Tensor {
    guard case .f32(let w) = weight else {
      preconditionFailure("backward passes need Float32 weights; load the layer with .f32")
    }
    return w
  }

  /// The trainable tensors: the weight, then the bias if there is one.
  public var parameters: [Tensor] { [f32Weight] + (bias.map { [$0] } ?? []) }

  /// Backward of `apply` for `y[rows, out] = x[rows, in]·Wᵀ + b`:
  ///
  ///     dx += dy · W          (when dx is given)
  ///     dW += dyᵀ · x, db += Σ_rows dy   (when gradient is given)
  ///
  /// `x` is the input the forward saw.
  public func backward(
    x: UnsafePointer<Float>, dOut: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
    gradient: LinearGradient?, rows: Int
  ) {
    guard rows > 0 else { return }
    let w = f32Weight
    if let dx {
      MatMul.linearInputGradient(dOut, w.pointer, dx, m: rows, n: outFeatures, k: inFeatures)
    }
    if let gradient {
      MatMul.linearWeightGradient(
        dOut, x, gradient.weight.pointer, m: rows, n: outFeatures, k: inFeatures)
      if let db = gradient.bias {
        Kernels.addBiasBackward(dOut, dBias: db.pointer, rows: rows, columns: outFeatures)
      }
    }
  }
}
