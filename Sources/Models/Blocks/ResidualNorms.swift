import Tensors

/// Where a block's norms stand around what it computes, f, on the residual stream x:
///
///     pre-norm (Llama, pre-norm OPT)   x + f(norm(x))
///     sandwich (Gemma)                 x + outputNorm(f(norm(x)))
///     post-norm (OPT-350m)             norm(x + f(x))
///
/// The attention and feed-forward blocks run their f through this one piece of code, forward
/// and backward.
struct ResidualNorms {
  let norm: Norm
  /// The sandwich's norm of what f adds.
  let outputNorm: Norm?
  let post: Bool
  /// Post-norm only: whether f's input gradient is added straight into the stream's gradient
  /// (OPT's attention) or summed in a buffer first (OPT's MLP); the two round differently,
  /// and each keeps the rounding it has always had.
  let inputGradientInPlace: Bool

  /// The norms a family names and where they stand.
  struct Spec: Sendable {
    let norm: Norm.Spec
    let outputNorm: Norm.Spec?
    let post: Bool

    /// The norm's table entries (they come first in a block's share of the table).
    var leadingParts: [[(name: String, shape: [Int])]] { norm.tableParts }
    /// The output norm's (last in the block's share).
    var trailingParts: [[(name: String, shape: [Int])]] { outputNorm?.tableParts ?? [] }
  }

  init(_ norm: Norm, outputNorm: Norm?, post: Bool, inputGradientInPlace: Bool) {
    self.norm = norm
    self.outputNorm = outputNorm
    self.post = post
    self.inputGradientInPlace = inputGradientInPlace
  }

  /// The norms of `spec`, each made by `make` (read from a checkpoint, or identities).
  init(_ spec: Spec, inputGradientInPlace: Bool, make: (Norm.Spec) throws -> Norm) rethrows {
    self.init(
      try make(spec.norm), outputNorm: try spec.outputNorm.map(make), post: spec.post,
      inputGradientInPlace: inputGradientInPlace)
  }

  /// The norm's gradients, then the output norm's, as the table lays them out around the
  /// block's other entries.
  func leadingGradient(_ cursor: inout GradientCursor?) -> Norm.Gradient? {
    cursor?.next(for: norm)
  }

  func trailingGradient(_ cursor: inout GradientCursor?) -> Norm.Gradient? {
    outputNorm.flatMap { cursor?.next(for: $0) }
  }

  /// What the forward keeps for the backward.
  final class Activations: @unchecked Sendable {
    let input: Tensor  // [rows, C] the block's input x
    let normed: Tensor?  // [rows, C] norm(x), f's input (pre-norm and sandwich)
    let output: Tensor?  // [rows, C] f's output, outputNorm's input (sandwich)
    let sum: Tensor?  // [rows, C] x + f(x), norm's input (post-norm)

    init(_ norms: ResidualNorms, rows: Int) {
      let c = norms.norm.spec.width
      input = Tensor(uninitialized: [rows, c])
      normed = norms.post ? nil : Tensor(uninitialized: [rows, c])
      output = norms.outputNorm == nil ? nil : Tensor(uninitialized: [rows, c])
      sum = norms.post ? Tensor(uninitialized: [rows, c]) : nil
    }

    /// f's input: the normed stream, or the block's input itself after a post-norm.
    var sublayerInput: Tensor { normed ?? input }
  }

  /// Runs the block in place on `x` (`[rows, C]`); `sublayer(input, out, accumulate)` computes
  /// f of `input` into `out`, added to what `out` holds when `accumulate`. Uses scratch slots
  /// 0, 3 and 4.
  func forward(
    _ x: UnsafeMutablePointer<Float>, rows: Int, saving saved: Activations?, scratch: Scratch,
    sublayer: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Bool) -> Void
  ) {
    let c = norm.spec.width
    saved?.input.pointer.update(from: x, count: rows * c)
    if post {
      sublayer(x, x, true)
      saved?.sum!.pointer.update(from: x, count: rows * c)
      norm.apply(x, out: x, rows: rows)
      return
    }
    let normed = saved?.normed ?? scratch(0, [rows, c])
    norm.apply(x, out: normed.pointer, rows: rows)
    guard let outputNorm else {
      sublayer(normed.pointer, x, true)
      return
    }
    let output = saved?.output ?? scratch(3, [rows, c])
    sublayer(normed.pointer, output.pointer, false)
    let added = scratch(4, [rows, c])
    outputNorm.apply(output.pointer, out: added.pointer, rows: rows)
    Kernels.add(x, added.pointer, count: rows * c)
  }

  /// Backward of `forward`, in place on the stream's gradient `g` (`[rows, C]`): dL/d(output)
  /// in, dL/d(x) out. `sublayer(dOut, dInput)` is f's backward, adding its input gradient into
  /// `dInput`. `gradients` are the norm's and the output norm's (nil when frozen).
  func backward(
    _ g: UnsafeMutablePointer<Float>, saved: Activations, rows: Int,
    gradients: (norm: Norm.Gradient?, outputNorm: Norm.Gradient?),
    sublayer: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
  ) {
    let c = norm.spec.width
    if post {
      let dSum = Tensor(zeros: [rows, c])  // [rows, C]
      norm.backward(
        g, x: saved.sum!.pointer, dx: dSum.pointer, gradient: gradients.norm, rows: rows)
      g.update(from: dSum.pointer, count: rows * c)
      if inputGradientInPlace {
        sublayer(g, g)
      } else {
        let dInput = Tensor(zeros: [rows, c])  // [rows, C]
        sublayer(g, dInput.pointer)
        Kernels.add(g, dInput.pointer, count: rows * c)
      }
      return
    }
    var dOut = UnsafePointer(g)
    let dAdded = outputNorm.map { _ in Tensor(zeros: [rows, c]) }  // [rows, C]
    if let outputNorm, let dAdded {
      outputNorm.backward(
        g, x: saved.output!.pointer, dx: dAdded.pointer, gradient: gradients.outputNorm,
        rows: rows)
      dOut = UnsafePointer(dAdded.pointer)
    }
    let dNormed = Tensor(zeros: [rows, c])  // [rows, C]
    sublayer(dOut, dNormed.pointer)
    norm.backward(
      dNormed.pointer, x: saved.input.pointer, dx: g, gradient: gradients.norm, rows: rows)
  }
}
