import Checkpoint
import Foundation

/// One tensor of a GGUF export as a family names and lays it out: llama.cpp's name, the Hugging
/// Face tensor it is made from, the shape (Hugging Face's order, outermost first) and what is done
/// to the values on the way.
public struct GGUFTensorPlan: Sendable, Equatable {
  public enum Transform: Sendable, Equatable {
    /// Copied as it is.
    case none
    /// llama.cpp's rotary permutation of a q or k projection (weight or bias) with `heads` heads:
    /// within each head, rows `[first half; second half]` are interleaved (convert_hf_to_gguf's
    /// `LlamaModel.permute`), because llama-style GGUF rotates adjacent pairs.
    case ropePermute(heads: Int)
    /// Every value plus one: Gemma's norms (`x · (1 + w)`) as llama.cpp stores them (`x · w`).
    case addOne
    /// Values computed, not read (llama 3's `rope_freqs`).
    case values([Float])
  }

  public let name: String
  /// The Hugging Face tensor, or nil for a computed one (`.values`).
  public let source: String?
  public let shape: [Int]
  public let transform: Transform

  public init(_ name: String, source: String?, shape: [Int], transform: Transform = .none) {
    self.name = name
    self.source = source
    self.shape = shape
    self.transform = transform
  }

  /// Stored as F32 whatever the file type, as llama.cpp's converter does: one-dimensional tensors
  /// and norms.
  public var alwaysF32: Bool { shape.count <= 1 || name.hasSuffix("_norm.weight") }
}

/// What a family supplies to be written as a GGUF file for llama.cpp: the capability an
/// `Architecture` adopts when llama.cpp has its architecture (found with `as?`; `Checkpoint`'s
/// `GGUFWriter` knows the format, the family only names and lays out).
public protocol GGUFNaming {
  /// llama.cpp's architecture (`general.architecture`), which prefixes the hyperparameter keys.
  var ggufArchitecture: String { get }
  /// The `{arch}.…` hyperparameters llama.cpp reads, for this configuration (after pruning,
  /// per-layer arrays have one entry per kept layer).
  func ggufHyperparameters() throws -> [GGUF.Entry]
  /// Every tensor, in the order written.
  func ggufTensors() throws -> [GGUFTensorPlan]
}

/// Why a family cannot be exported to GGUF, for the families that do not adopt `GGUFNaming`.
public protocol GGUFRefusal {
  var ggufRefusal: String { get }
}

extension GGUFNaming {
  /// `{arch}.key`.
  public func key(_ suffix: String) -> String { "\(ggufArchitecture).\(suffix)" }

  /// The keys llama.cpp's converter writes for every llama-like model (TextModel's
  /// `set_gguf_parameters`), in its order.
  func commonHyperparameters(
    layers: Int, context: Int?, hidden: Int, feedForward: Int, heads: Int, kvHeads: Int,
    ropeTheta: Double?, rmsEps: Float, headDim: Int?
  ) -> [GGUF.Entry] {
    var entries: [GGUF.Entry] = [GGUF.Entry(key("block_count"), .uint32(UInt32(layers)))]
    if let context { entries.append(GGUF.Entry(key("context_length"), .uint32(UInt32(context)))) }
    entries += [
      GGUF.Entry(key("embedding_length"), .uint32(UInt32(hidden))),
      GGUF.Entry(key("feed_forward_length"), .uint32(UInt32(feedForward))),
      GGUF.Entry(key("attention.head_count"), .uint32(UInt32(heads))),
      GGUF.Entry(key("attention.head_count_kv"), .uint32(UInt32(kvHeads))),
    ]
    if let ropeTheta {
      entries.append(GGUF.Entry(key("rope.freq_base"), .float32(Float(ropeTheta))))
    }
    entries.append(GGUF.Entry(key("attention.layer_norm_rms_epsilon"), .float32(rmsEps)))
    if let headDim {
      entries.append(GGUF.Entry(key("attention.key_length"), .uint32(UInt32(headDim))))
      entries.append(GGUF.Entry(key("attention.value_length"), .uint32(UInt32(headDim))))
    }
    return entries
  }
}

extension GGUFTensorPlan {
  /// llama.cpp's names for one decoder layer's attention and gated MLP, from Hugging Face's
  /// `self_attn.{q,k,v,o}_proj` and `mlp.{gate,up,down}_proj` (weights and biases).
  static func llamaLikeName(_ local: String) -> String? {
    let table: [String: String] = [
      "input_layernorm.weight": "attn_norm.weight",
      "post_attention_layernorm.weight": "ffn_norm.weight",
      "self_attn.q_proj.weight": "attn_q.weight",
      "self_attn.q_proj.bias": "attn_q.bias",
      "self_attn.k_proj.weight": "attn_k.weight",
      "self_attn.k_proj.bias": "attn_k.bias",
      "self_attn.v_proj.weight": "attn_v.weight",
      "self_attn.v_proj.bias": "attn_v.bias",
      "self_attn.o_proj.weight": "attn_output.weight",
      "self_attn.o_proj.bias": "attn_output.bias",
      "self_attn.q_norm.weight": "attn_q_norm.weight",
      "self_attn.k_norm.weight": "attn_k_norm.weight",
      "mlp.gate_proj.weight": "ffn_gate.weight",
      "mlp.gate_proj.bias": "ffn_gate.bias",
      "mlp.up_proj.weight": "ffn_up.weight",
      "mlp.up_proj.bias": "ffn_up.bias",
      "mlp.down_proj.weight": "ffn_down.weight",
      "mlp.down_proj.bias": "ffn_down.bias",
      "pre_feedforward_layernorm.weight": "ffn_norm.weight",
      "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
    ]
    return table[local]
  }
}
