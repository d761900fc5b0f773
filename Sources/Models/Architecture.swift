import Checkpoint
import Foundation
import Tensors

/// What generic code (scoring, surgery, training, evaluation, benchmarks, the CLI) knows of a
/// model family: its shape, its Hugging Face tensor names, how to load its layers and its head,
/// and how config.json changes when layers go. A family is one folder under `Sources/Models/`
/// whose configuration type adopts this protocol, plus one line in `Architectures.registry`.
///
/// The computation lives in the family's `DecoderLayer` and `LanguageModelHead`; nothing
/// outside the family names its tensors. Per-layer differences (Gemma's sliding and full
/// layers, each with its own RoPE) belong to the layer the architecture loads for an index:
/// `loadLayer(i, …)` may return a layer configured for layer i's type.
public protocol Architecture: Sendable {
  // MARK: Shape

  /// config.json's `model_type`, as the registry knows it.
  var modelType: String { get }
  /// Width of the residual stream, C.
  var hiddenSize: Int { get }
  /// Width of the MLP's hidden layer (OPT's `ffn_dim`).
  var intermediateSize: Int { get }
  var numLayers: Int { get }
  var numHeads: Int { get }
  var numKVHeads: Int { get }
  /// Width of one attention head; `numHeads · headDim` need not equal `hiddenSize` (Gemma).
  var headDim: Int { get }
  var vocabSize: Int { get }
  var tieWordEmbeddings: Bool { get }
  /// The context length the model was trained for (`max_position_embeddings`), if given.
  var maxPositions: Int? { get }
  /// Sequences longer than this are refused (attention the layers cannot yet compute exactly,
  /// such as a sliding window); nil when any length is computed exactly.
  var maxAttentionSpan: Int? { get }

  // MARK: Hugging Face tensor names

  /// The prefix of every tensor of decoder layer `layer` (`model.layers.3.`; OPT's
  /// `model.decoder.layers.3.`).
  func layerPrefix(_ layer: Int) -> String
  /// Every tensor of decoder layer `layer`, full name and shape, in the order of the layer's
  /// parameter table (`DecoderLayer.parameterTable` lists the same tensors, prefix removed).
  func layerTensors(_ layer: Int) -> [(name: String, shape: [Int])]
  /// The tensors outside the decoder layers: embeddings (and learned positions), final norm,
  /// head, projections.
  var globalTensors: [(name: String, shape: [Int])] { get }
  /// A tensor the checkpoint may hold beyond `layerTensors` and `globalTensors` without being
  /// wrong (rotary buffers of old checkpoints, a stored copy of a tied head). The default
  /// tolerates `rotary_emb.inv_freq` buffers.
  func tolerates(extraTensor name: String) -> Bool

  // MARK: Loading

  /// Decoder layer `index`, read from `folder` and converted to `precision`.
  func loadLayer(_ index: Int, from folder: ModelFolder, precision: Precision) throws
    -> any DecoderLayer
  /// The part after the last layer: final norm and LM head (the embeddings when tied).
  func loadHead(from folder: ModelFolder, precision: Precision) throws -> any LanguageModelHead
  /// Hidden state 0 of `sequences` laid end to end (`x` is `[batch.rows, C]`), with whatever
  /// the family does at embedding time: Gemma's × sqrt(hidden) in the model dtype, OPT's learned
  /// positions (offset by 2) added at `batch.positions`. Only the rows used are read.
  func embed(_ sequences: [[Int]], batch: Batch, from folder: ModelFolder, into x: Tensor) throws
  /// A layer of random weights with this shape (benchmarks).
  func randomLayer(precision: Precision, using generator: inout SplitMix) -> any DecoderLayer
  /// A head of random weights with this shape (benchmarks).
  func randomHead(precision: Precision, using generator: inout SplitMix) -> any LanguageModelHead

  // MARK: Surgery

  /// config.json (as parsed JSON) after the 0-based layers `removed` go. The default sets
  /// `num_hidden_layers` and drops the removed entries of every list with one entry per layer
  /// (`layer_types`, `no_rope_layers`, window patterns), so each kept layer keeps its type; a
  /// family whose per-layer structure is written another way (a period such as
  /// `sliding_window_pattern`, OPT's layer count key) overrides it.
  func editedConfig(_ config: [String: Any], removing removed: Set<Int>) -> [String: Any]
}

extension Architecture {
  public func tolerates(extraTensor name: String) -> Bool {
    name.hasSuffix("rotary_emb.inv_freq")
  }

  public func editedConfig(_ config: [String: Any], removing removed: Set<Int>) -> [String: Any] {
    ConfigEditing.removingLayers(
      config, layers: numLayers, removing: removed, countKey: "num_hidden_layers")
  }

  public var parametersPerLayer: Int {
    layerTensors(0).reduce(0) { $0 + $1.shape.reduce(1, *) }
  }

  public var totalParameters: Int {
    (0..<numLayers).reduce(0) { total, layer in
      total + layerTensors(layer).reduce(0) { $0 + $1.shape.reduce(1, *) }
    } + globalTensors.reduce(0) { $0 + $1.shape.reduce(1, *) }
  }

  /// Multiply-adds per token of one layer's matrix products: every two-dimensional tensor of
  /// layer 0 (what a forward multiplies by), for benchmarks' FLOP counts.
  public var matrixParametersPerLayer: Int {
    layerTensors(0).filter { $0.shape.count == 2 }.reduce(0) { $0 + $1.shape.reduce(1, *) }
  }
}
