import Checkpoint
import Foundation
import Tensors

/// Gemma 2 and 3 as generic code sees them.
extension GemmaConfig: Architecture {
  public static let embeddingName = "model.embed_tokens.weight"
  public static let finalNormName = "model.norm.weight"
  public static let headName = "lm_head.weight"

  public var maxAttentionSpan: Int? {
    Gemma.windowedAttention || !sliding.contains(true) ? nil : slidingWindow
  }

  public func layerPrefix(_ layer: Int) -> String { "model.layers.\(layer)." }

  public func layerTensors(_ layer: Int) -> [(name: String, shape: [Int])] {
    layerSpec(layer).tensors(prefix: layerPrefix(layer))
  }

  /// The LM head's weight: its own tensor, or the embeddings when they are tied.
  public var headWeightName: String { tieWordEmbeddings ? Self.embeddingName : Self.headName }

  public var globalTensors: [(name: String, shape: [Int])] {
    var names = [
      (Self.embeddingName, [vocabSize, hiddenSize]), (Self.finalNormName, [hiddenSize]),
    ]
    if !tieWordEmbeddings { names.append((Self.headName, [vocabSize, hiddenSize])) }
    return names
  }

  public func tolerates(extraTensor name: String) -> Bool {
    name.hasSuffix("rotary_emb.inv_freq") || (name == Self.headName && tieWordEmbeddings)
  }

  public func loadLayer(_ index: Int, from folder: ModelFolder, precision: Precision) throws
    -> any DecoderLayer
  {
    try GemmaLayer.load(index, config: self, from: folder, precision: precision)
  }

  public func loadHead(from folder: ModelFolder, precision: Precision) throws
    -> any LanguageModelHead
  {
    GemmaHead(
      norm: try folder.float(Self.finalNormName, shape: [hiddenSize]),
      projection: try Linear.load(
        stacking: [headWeightName], outFeatures: [vocabSize], inFeatures: hiddenSize,
        biases: [nil], from: folder, precision: precision),
      eps: rmsNormEps, softcap: finalSoftcap)
  }

  /// transformers multiplies the embeddings by `hidden_size ** 0.5` held as a tensor and cast
  /// to the weights' dtype at run time: Float32 when the model computes in Float32, whatever the
  /// checkpoint's dtype (its bf16 rounding, 25.25 for 640, happens only for a model run in bf16).
  public var embeddingScale: Float { Float(Double(hiddenSize).squareRoot()) }

  public func embed(_ sequences: [[Int]], batch: Batch, from folder: ModelFolder, into x: Tensor)
    throws
  {
    try Embedding.gather(Self.embeddingName, sequences, from: folder, into: x)
    let scale = embeddingScale
    let values = x.pointer
    for i in 0..<(batch.rows * hiddenSize) { values[i] *= scale }
  }

  public func randomLayer(precision: Precision, using generator: inout SplitMix)
    -> any DecoderLayer
  {
    layerSpec(0).random(GemmaLayer.self, precision: precision, using: &generator)
  }

  public func randomHead(precision: Precision, using generator: inout SplitMix)
    -> any LanguageModelHead
  {
    GemmaHead(
      norm: Tensor(zeros: [hiddenSize]),
      projection: Linear.random(
        outFeatures: vocabSize, inFeatures: hiddenSize, bias: false, precision: precision,
        using: &generator),
      eps: rmsNormEps, softcap: finalSoftcap)
  }

  /// Each kept layer keeps its type: `layer_types` is written out (from the period when the
  /// config gives only `sliding_window_pattern`, which removal would shift) before the removed
  /// layers' entries go.
  public func editedConfig(_ config: [String: Any], removing removed: Set<Int>) -> [String: Any] {
    var config = config
    config["layer_types"] = layerTypes
    return ConfigEditing.removingLayers(
      config, layers: numLayers, removing: removed, countKey: "num_hidden_layers")
  }
}
