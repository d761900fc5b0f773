import Foundation
import Tensors

/// What a layer's forward keeps for its backward; each family's layer defines its own and
/// casts back to it (once per layer call, never inside a kernel).
public protocol SavedActivations: AnyObject {
  var batch: Batch { get }
}

/// One decoder layer as generic code sees it: a function of the residual stream, computed in
/// place, with a backward and a table of its parameters.
///
/// Everything specific to the layer's family (norm kind, activation, attention scale, q/k
/// norms, soft-capping, its RoPE, whether it is a sliding layer) is the layer's own; what the
/// layer needs from the forward as a whole (RoPE tables for the batch's positions) comes
/// through `LayerContext`.
public protocol DecoderLayer: AnyObject, Sendable {
  /// Width of the residual stream, C.
  var hiddenSize: Int { get }

  /// Runs the layer over `batch.rows` rows of the residual stream `x` (`[rows, C]`) in place.
  /// `workspace`, when given, supplies scratch buffers reused across calls (one forward at a
  /// time per workspace).
  func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext,
    workspace: Workspace?)

  /// `forward`, keeping what `backward` needs; the output is identical.
  func forwardSaving(_ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext)
    -> any SavedActivations

  /// Backward of `forward`, in place on the residual-stream gradient: `gradient` (`[rows, C]`)
  /// holds dL/d(output) on entry and dL/d(input) on exit. Parameter gradients are *added* into
  /// `gradients` (made by `LayerGradients(zerosFor:)` for this layer); with nil only the input
  /// gradient is computed (backpropagating through a frozen layer). Needs Float32 weights.
  func backward(
    _ saved: any SavedActivations, gradient: UnsafeMutablePointer<Float>,
    into gradients: LayerGradients?, context: LayerContext)

  /// The one table of the layer's trainable tensors: each tensor as the layer stores it
  /// (Float32), with the Hugging Face tensors it holds, names relative to the layer prefix.
  /// Its order is the order of the optimizer, the gradients, `namedParameters()` and
  /// `Architecture.layerTensors`; a family derives all of them from one list (llm.c's
  /// `param_sizes`), never from hand-synchronised copies. Needs Float32 weights.
  var parameterTable: [LayerParameter] { get }
}

extension DecoderLayer {
  public func forward(_ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext) {
    forward(x, batch: batch, context: context, workspace: nil)
  }

  /// Recomputes the forward from the layer's input `x` (`[rows, C]`, left unchanged) and runs
  /// the backward: `gradient` holds dL/d(output) on entry and dL/d(x) on exit. For layers whose
  /// activations were not kept (frozen layers under the language-model loss).
  public func backward(
    input x: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>,
    into gradients: LayerGradients?, batch: Batch, context: LayerContext
  ) {
    let scratch = Tensor(uninitialized: [batch.rows, hiddenSize])  // [rows, C]
    scratch.pointer.update(from: x, count: scratch.count)
    let saved = forwardSaving(scratch.pointer, batch: batch, context: context)
    backward(saved, gradient: gradient, into: gradients, context: context)
  }

  /// The trainable tensors in table order.
  public var parameters: [Tensor] { parameterTable.map(\.tensor) }

  /// The parameters under their Hugging Face names (relative to the layer, e.g.
  /// `self_attn.q_proj.weight`), as views into the stored tensors, in table order.
  public func namedParameters() -> [(
    name: String, shape: [Int], values: UnsafeBufferPointer<Float>
  )] {
    parameterTable.flatMap { $0.named() }
  }
}

/// One stored tensor of a layer and the Hugging Face tensors it holds, stacked by rows in
/// order: q/k/v stacked into one `[(H + 2·KV)·D, C]` product is one entry with three parts; a
/// fused checkpoint tensor (Phi-3's `qkv_proj`) is one entry with one part.
public struct LayerParameter {
  public let tensor: Tensor
  public let parts: [(name: String, shape: [Int])]

  public init(_ tensor: Tensor, parts: [(name: String, shape: [Int])]) {
    precondition(
      parts.reduce(0) { $0 + $1.shape.reduce(1, *) } == tensor.count,
      "the parts of a layer parameter must tile its tensor")
    self.tensor = tensor
    self.parts = parts
  }

  /// Each part as a view into the tensor.
  public func named() -> [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)] {
    var offset = 0
    return parts.map { part in
      let count = part.shape.reduce(1, *)
      defer { offset += count }
      return (
        part.name, part.shape, UnsafeBufferPointer(start: tensor.pointer + offset, count: count)
      )
    }
  }
}

/// The gradient of every parameter of a layer, laid out by the layer's parameter table: entry
/// i is the gradient of `parameterTable[i]`, with the same shape and parts.
public final class LayerGradients: @unchecked Sendable {
  public let table: [LayerParameter]

  /// Zeros shaped like `layer`'s parameters.
  public init(zerosFor layer: any DecoderLayer) {
    table = layer.parameterTable.map {
      LayerParameter(Tensor(zeros: $0.tensor.shape), parts: $0.parts)
    }
  }

  /// Every gradient tensor, in the order of the layer's `parameters`.
  public var tensors: [Tensor] { table.map(\.tensor) }

  public func zero() {
    for tensor in tensors { tensor.data.update(repeating: 0) }
  }

  /// The gradients under the parameters' Hugging Face names, as `namedParameters()`.
  public func named() -> [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)] {
    table.flatMap { $0.named() }
  }
}

// MARK: - Capabilities

/// A layer whose attention can be switched off, leaving `x + MLP(x)`: the `ffn` replacement.
/// A family without it (no separable attention output) is refused with a message.
public protocol AttentionSwitching: DecoderLayer {
  /// Zeroes what makes the attention block contribute (its output projection, weight and
  /// bias; for a post-norm family, whatever leaves `x` unchanged) and returns the indices,
  /// into `parameterTable`, of the MLP-block parameters: the only ones to train.
  func switchOffAttention() -> [Int]
}

/// A layer whose MLP output `m` is added straight into the residual stream by a linear output
/// projection, so a linear map T on m folds into that projection (W ← Tᵀ·W, b ← Tᵀ·b): the
/// `linear` replacement. A family that normalises the MLP output before adding it (Gemma's
/// post-feed-forward norm) must not adopt this.
public protocol MLPOutputFolding: DecoderLayer {
  /// The Hugging Face names (relative to the layer prefix) of the MLP output projection's
  /// weight (`[C, I]`) and bias (`[C]`, nil when the layer has none).
  var mlpOutputProjection: (weight: String, bias: String?) { get }

  /// `forward`, also writing into `beforeMLP` (`[rows, C]`) the residual stream `a` the MLP
  /// adds to, so the layer's output is `a + m`.
  func forward(
    _ x: UnsafeMutablePointer<Float>, batch: Batch, context: LayerContext,
    beforeMLP: UnsafeMutablePointer<Float>)
}

/// The capabilities a layer may lack, for `MissingCapabilityExplaining`.
public enum LayerCapability: Sendable {
  case attentionSwitching, mlpOutputFolding
}

/// A layer that says, in words for the user, why it lacks a capability (a post-norm layer
/// normalises what attention or the MLP adds). Generic code refusing a replacement puts the
/// reason in its message; nil means no particular reason is known.
public protocol MissingCapabilityExplaining: DecoderLayer {
  func whyLacking(_ capability: LayerCapability) -> String?
}

extension DecoderLayer {
  /// Why this layer lacks `capability`: its family's words when it has them, else `fallback`.
  public func reasonLacking(_ capability: LayerCapability, otherwise fallback: String) -> String {
    (self as? any MissingCapabilityExplaining)?.whyLacking(capability) ?? fallback
  }
}
