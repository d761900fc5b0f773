import Foundation
import Models
import Tensors

@testable import Streamline

enum Fixtures {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures")

  /// Two `[rows, width]` tensors of uniform values in [-1, 1), drawn alternately from
  /// `generator` (an input state and its target, row-major).
  static func randomStatePair(rows: Int, width: Int, using generator: inout SplitMix) -> (
    Tensor, Tensor
  ) {
    let first = Tensor(uninitialized: [rows, width])
    let second = Tensor(uninitialized: [rows, width])
    for i in 0..<first.count {
      first.data[i] = generator.nextSigned()
      second.data[i] = generator.nextSigned()
    }
    return (first, second)
  }

  static func model(_ name: String) -> URL {
    root.appendingPathComponent("models").appendingPathComponent(name)
  }

  static let importance = root.appendingPathComponent("importance")

  struct ImportanceReference: Decodable {
    let seqLen: Int
    let rows: Int
    let cosine: [[Double]]
    let angular: [[Double]]
    let layerBI: [Double]
    let removed: [Int]
    let prunedLogits: [[Float]]

    enum CodingKeys: String, CodingKey {
      case rows, cosine, angular, removed
      case seqLen = "seq_len"
      case layerBI = "layer_bi"
      case prunedLogits = "pruned_logits"
    }

    static func load() throws -> ImportanceReference {
      try JSONDecoder().decode(
        ImportanceReference.self,
        from: Data(contentsOf: importance.appendingPathComponent("reference.json")))
    }
  }

  /// The first `options.samples` sequences of the streamed draw, as scoring draws them (`nil`
  /// tokenizer: the data is token ids).
  static func calibrationSequences(_ options: CalibrationOptions) throws -> [[Int]] {
    try CalibrationStream.draw(
      options, counts: CalibrationCounts(scoring: options.samples), tokenizer: nil,
      vocabularySize: 128
    ).scoring
  }

  /// A fresh temporary folder path (not created).
  static func temporary(_ label: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent(
      "streamline-\(label)-\(UUID().uuidString)")
  }

  static func message(_ body: () throws -> Void) -> String? {
    do {
      try body()
      return nil
    } catch {
      return "\(error)"
    }
  }
}
