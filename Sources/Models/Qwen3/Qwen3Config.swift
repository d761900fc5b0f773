import Checkpoint
import Foundation
import Tensors

/// Qwen3: the Llama computation with an RMSNorm over each head of q and of k (`q_norm`,
/// `k_norm`, weight `[head_dim]`) between the projection and RoPE, an explicit `head_dim` (128
/// when absent, whatever hidden_size / heads is), biases on q/k/v/o only with
/// `attention_bias`, and optional sliding windows placed as Qwen2 places them.
public enum Qwen3 {
  static func config(_ source: ConfigSource) throws -> any Architecture {
    Qwen3Config(
      base: try LlamaConfig(
        source,
        defaults: .init(ropeTheta: 10000, qkvBias: false, windows: .qwen, headDim: 128)))
  }
}

/// The configuration of a Qwen3 decoder: a Llama configuration whose layers carry q/k norms.
public struct Qwen3Config: Sendable, Equatable {
  /// Everything Qwen3 shares with Llama: shapes, RoPE, biases, windows, tensor names.
  public let base: LlamaConfig
}

extension Qwen3Config: Architecture {
  public var modelType: String { base.modelType }
  public var hiddenSize: Int { base.hiddenSize }
  public var intermediateSize: Int { base.intermediateSize }
  public var numLayers: Int { base.numLayers }
  public var numHeads: Int { base.numHeads }
  public var numKVHeads: Int { base.numKVHeads }
  public var headDim: Int { base.headDim }
  public var vocabSize: Int { base.vocabSize }
  public var tieWordEmbeddings: Bool { base.tieWordEmbeddings }
  public var maxPositions: Int? { base.maxPositions }
  public var maxAttentionSpan: Int? { base.maxAttentionSpan }

  public func layerPrefix(_ layer: Int) -> String { base.layerPrefix(layer) }

  public func layerTensors(_ layer: Int) -> [(name: String, shape: [Int])] {
    layerSpec(window: nil).tensors(prefix: base.layerPrefix(layer))
  }

  public var globalTensors: [(name: String, shape: [Int])] { base.globalTensors }

  public func tolerates(extraTensor name: String) -> Bool { base.tolerates(extraTensor: name) }

  public func loadLayer(_ index: Int, from folder: ModelFolder, precision: Precision) throws
    -> any DecoderLayer
  {
    try Qwen3Layer.load(index, config: self, from: folder, precision: precision)
  }

  public func loadHead(from folder: ModelFolder, precision: Precision) throws
    -> any LanguageModelHead
  {
    try base.loadHead(from: folder, precision: precision)
  }

  public func embed(_ sequences: [[Int]], batch: Batch, from folder: ModelFolder, into x: Tensor)
    throws
  {
    try base.embed(sequences, batch: batch, from: folder, into: x)
  }

  public func randomLayer(precision: Precision, using generator: inout SplitMix)
    -> any DecoderLayer
  {
    layerSpec(window: base.layerWindows.first ?? nil).random(
      Qwen3Layer.self, precision: precision, using: &generator)
  }

  public func randomHead(precision: Precision, using generator: inout SplitMix)
    -> any LanguageModelHead
  {
    base.randomHead(precision: precision, using: &generator)
  }
}
