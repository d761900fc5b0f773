import Checkpoint
import Evaluation
import Foundation
import Models

/// A model folder's size and a simple forward-speed measurement.
public struct ModelFacts: Codable, Sendable {
  public var path: String
  public var layers: Int
  public var parameters: Int
  public var bytesOnDisk: Int
  /// Tokens per second of one forward over `speedTokens` tokens (with logits), after a warm-up.
  public var tokensPerSecond: Double

  enum CodingKeys: String, CodingKey {
    case path, layers, parameters
    case bytesOnDisk = "bytes_on_disk"
    case tokensPerSecond = "tokens_per_second"
  }

  public init(model: DecoderModel, speedTokens: Int = 256) throws {
    let url = model.folder?.url
    path = url?.path ?? "(random weights)"
    layers = model.config.numLayers
    parameters = model.config.totalParameters
    var bytes = 0
    if let url {
      for name in (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? [] {
        let attributes = try? FileManager.default.attributesOfItem(
          atPath: url.appendingPathComponent(name).path)
        if attributes?[.type] as? FileAttributeType == .typeRegular,
          let size = attributes?[.size] as? NSNumber
        {
          bytes += size.intValue
        }
      }
    }
    bytesOnDisk = bytes
    let vocabulary = model.config.vocabSize
    let tokens = (0..<max(2, speedTokens)).map { ($0 * 7919 + 13) % vocabulary }
    try model.forward([Array(tokens.prefix(8))], logits: { _, _, _ in })
    let start = Date()
    try model.forward([tokens], logits: { _, _, _ in })
    tokensPerSecond = Double(tokens.count) / Date().timeIntervalSince(start)
  }
}
