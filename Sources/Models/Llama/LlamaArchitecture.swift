import Checkpoint
import Foundation
import Tensors

/// Llama (and its Mistral and Qwen2 variants) as generic code sees it.
extension LlamaConfig: Architecture {
  public func layerPrefix(_ layer: Int) -> String { Self.layerPrefix(layer) }

  public func tolerates(extraTensor name: String) -> Bool {
    // Old checkpoints carry rotary buffers; tied checkpoints may still store the head.
    name.hasSuffix("rotary_emb.inv_freq") || (name == Self.headName && tieWordEmbeddings)
  }

  public func loadLayer(_ index: Int, from folder: ModelFolder, precision: Precision) throws
    -> any DecoderLayer
  {
    try LlamaLayer.load(index, config: self, from: folder, precision: precision)
  }

  public func loadHead(from folder: ModelFolder, precision: Precision) throws
    -> any LanguageModelHead
  {
    try RMSNormHead.load(
      norm: Self.finalNormName, weight: headWeightName, hiddenSize: hiddenSize,
      vocabSize: vocabSize, eps: rmsNormEps, from: folder, precision: precision)
  }

  public func embed(_ sequences: [[Int]], batch: Batch, from folder: ModelFolder, into x: Tensor)
    throws
  {
    try Embedding.gather(Self.embeddingName, sequences, from: folder, into: x)
  }

  public func randomLayer(precision: Precision, using generator: inout SplitMix)
    -> any DecoderLayer
  {
    layerSpec(window: layerWindows.first ?? nil).random(
      LlamaLayer.self, precision: precision, using: &generator)
  }

  public func randomHead(precision: Precision, using generator: inout SplitMix)
    -> any LanguageModelHead
  {
    RMSNormHead.random(
      hiddenSize: hiddenSize, vocabSize: vocabSize, eps: rmsNormEps, precision: precision,
      using: &generator)
  }
}
