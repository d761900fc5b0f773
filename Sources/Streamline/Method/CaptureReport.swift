import Foundation
import Models
import Tensors

/// What capturing the training states cost.
public struct CaptureReport: Codable, Sendable {
  /// The states kept (block input, and output or the state before the block).
  public let states: [Int]
  public let sequences: Int
  public let tokens: Int
  /// Bytes of states kept, and whether they went to a scratch file.
  public let bytes: Int
  public let spilled: Bool
  /// Decoder layers each training sequence went through.
  public let layersRun: Int
  public let seconds: Double

  enum CodingKeys: String, CodingKey {
    case states, sequences, tokens, bytes, spilled, seconds
    case layersRun = "layers_run"
  }
}
