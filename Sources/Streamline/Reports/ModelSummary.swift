import Checkpoint
import Evaluation
import Foundation
import Models

/// What `streamline inspect` reports about a checkpoint.
public struct ModelSummary: Codable, Sendable {
  public struct File: Codable, Sendable {
    public let name: String
    public let bytes: Int
  }

  public let path: String
  public let modelType: String
  public let numLayers: Int
  public let hiddenSize: Int
  public let intermediateSize: Int
  public let numHeads: Int
  public let numKVHeads: Int
  public let headDim: Int
  public let vocabSize: Int
  public let tieWordEmbeddings: Bool
  public let dtype: String
  public let parameters: Int
  public let parametersPerLayer: Int
  public let files: [File]
  public let totalBytes: Int

  enum CodingKeys: String, CodingKey {
    case path
    case modelType = "model_type"
    case numLayers = "num_layers"
    case hiddenSize = "hidden_size"
    case intermediateSize = "intermediate_size"
    case numHeads = "num_attention_heads"
    case numKVHeads = "num_key_value_heads"
    case headDim = "head_dim"
    case vocabSize = "vocab_size"
    case tieWordEmbeddings = "tie_word_embeddings"
    case dtype, parameters
    case parametersPerLayer = "parameters_per_layer"
    case files
    case totalBytes = "total_bytes"
  }

  public init(model: DecoderModel) throws {
    guard let folder = model.folder else {
      preconditionFailure("inspect reads checkpoints")
    }
    let config = model.config
    path = folder.url.path
    modelType = config.modelType
    numLayers = config.numLayers
    hiddenSize = config.hiddenSize
    intermediateSize = config.intermediateSize
    numHeads = config.numHeads
    numKVHeads = config.numKVHeads
    headDim = config.headDim
    vocabSize = config.vocabSize
    tieWordEmbeddings = config.tieWordEmbeddings
    dtype = folder.dominantDType.rawValue
    parameters = config.totalParameters
    parametersPerLayer = config.parametersPerLayer
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.url.path)) ?? []
    files = names.sorted().compactMap { name in
      let attributes = try? FileManager.default.attributesOfItem(
        atPath: folder.url.appendingPathComponent(name).path)
      guard let size = attributes?[.size] as? NSNumber,
        attributes?[.type] as? FileAttributeType == .typeRegular
      else {
        return nil
      }
      return File(name: name, bytes: size.intValue)
    }
    totalBytes = files.reduce(0) { $0 + $1.bytes }
  }

  public var text: String {
    var lines = [
      "model        \(path)",
      "architecture \(modelType), \(numLayers) layers",
      "hidden size  \(hiddenSize) (intermediate \(intermediateSize))",
      "heads        \(numHeads) attention, \(numKVHeads) key/value, head dim \(headDim)",
      "vocabulary   \(vocabSize)\(tieWordEmbeddings ? " (embeddings tied to the LM head)" : "")",
      "dtype        \(dtype)",
      "parameters   \(Format.count(parameters)) (\(parameters)); per decoder layer \(Format.count(parametersPerLayer)) (\(parametersPerLayer))",
      "files        \(Format.bytes(totalBytes)) in all",
    ]
    for file in files { lines.append("  \(file.name)  \(Format.bytes(file.bytes))") }
    return lines.joined(separator: "\n")
  }
}
