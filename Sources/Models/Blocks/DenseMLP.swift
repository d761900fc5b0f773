import Checkpoint
import Tensors

/// A dense MLP, `output(act(input(x)))`: gated (`input` is gate and up stacked into one
/// `[2·I, C]` product, Phi-3's fused `gate_up_proj` being the same layout, and `act(gate)·up`)
/// with SiLU (Llama, Qwen, Phi-3) or GELU-tanh (Gemma), or plain with ReLU (OPT's fc1, fc2).
final class DenseMLP: FeedForward, @unchecked Sendable {
  enum Activation: Sendable {
    case siluGate, geluTanhGate, relu

    var gated: Bool { self != .relu }
  }

  struct Spec: FeedForwardSpec {
    /// gate/up (`[2·I, C]`) or fc1 (`[I, C]`).
    let input: Projection
    /// down or fc2 (`[C, I]`).
    let output: Projection
    let activation: Activation

    /// I, the hidden width.
    var width: Int { output.inFeatures }
    var tableParts: [[(name: String, shape: [Int])]] { input.tableParts + output.tableParts }
    var outputProjection: Projection? { output }

    func load(prefix: String, from folder: ModelFolder, precision: Precision) throws
      -> any FeedForward
    {
      DenseMLP(
        self, input: try input.load(prefix: prefix, from: folder, precision: precision),
        output: try output.load(prefix: prefix, from: folder, precision: precision))
    }

    func random(precision: Precision, using generator: inout SplitMix) -> any FeedForward {
      DenseMLP(
        self, input: input.random(precision: precision, using: &generator),
        output: output.random(precision: precision, using: &generator))
    }
  }

  let spec: Spec
  var input: Linear
  var output: Linear

  init(_ spec: Spec, input: Linear, output: Linear) {
    self.spec = spec
    self.input = input
    self.output = output
  }

  var parameters: [Tensor] { input.parameters + output.parameters }

  final class Activations {
    let fused: Tensor?  // [rows, 2·I] gate, then up (gated)
    let activated: Tensor  // [rows, I] act(gate)·up or relu(fc1(x)), the output's input

    init(rows: Int, width: Int, gated: Bool) {
      fused = gated ? Tensor(uninitialized: [rows, 2 * width]) : nil
      activated = Tensor(uninitialized: [rows, width])
    }
  }

  func saving(rows: Int) -> AnyObject {
    Activations(rows: rows, width: spec.width, gated: spec.activation.gated)
  }

  func forward(
    _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, accumulate: Bool,
    rows: Int, saving: AnyObject?, scratch: Scratch
  ) {
    let saved = saving.map { $0 as! Activations }
    let width = spec.width
    let activated: Tensor
    if spec.activation.gated {
      let fused = saved?.fused ?? scratch(1, [rows, 2 * width])
      input.apply(Linear.Input(x), into: fused.pointer, rows: rows)
      activated = saved?.activated ?? scratch(2, [rows, width])
      if spec.activation == .siluGate {
        Kernels.siluGate(fused.pointer, out: activated.pointer, rows: rows, width: width)
      } else {
        Kernels.geluTanhGate(fused.pointer, out: activated.pointer, rows: rows, width: width)
      }
    } else {
      activated = saved?.activated ?? scratch(1, [rows, width])
      input.apply(Linear.Input(x), into: activated.pointer, rows: rows)
      Kernels.relu(activated.pointer, count: rows * width)
    }
    output.apply(Linear.Input(activated.pointer), into: out, rows: rows, accumulate: accumulate)
  }

  func backward(
    _ dOut: UnsafePointer<Float>, input x: UnsafePointer<Float>,
    dInput: UnsafeMutablePointer<Float>, rows: Int, saved: AnyObject,
    gradients: ArraySlice<Tensor>?
  ) {
    let saved = saved as! Activations
    let width = spec.width
    var cursor = gradients.map(GradientCursor.init)
    let inputGradient = cursor?.next(for: input)
    let outputGradient = cursor?.next(for: output)
    let dActivated = Tensor(zeros: [rows, width])  // [rows, I]
    output.backward(
      x: saved.activated.pointer, dOut: dOut, dx: dActivated.pointer, gradient: outputGradient,
      rows: rows)
    let dHidden = Tensor(zeros: [rows, input.outFeatures])  // [rows, 2·I] or [rows, I]
    switch spec.activation {
    case .siluGate:
      Kernels.siluGateBackward(
        dActivated.pointer, fused: saved.fused!.pointer, dFused: dHidden.pointer, rows: rows,
        width: width)
    case .geluTanhGate:
      Kernels.geluTanhGateBackward(
        dActivated.pointer, fused: saved.fused!.pointer, dFused: dHidden.pointer, rows: rows,
        width: width)
    case .relu:
      Kernels.reluBackward(
        dActivated.pointer, output: saved.activated.pointer, dx: dHidden.pointer,
        count: dHidden.count)
    }
    input.backward(x: x, dOut: dHidden.pointer, dx: dInput, gradient: inputGradient, rows: rows)
  }
}
