import Evaluation
import Foundation
import Models
import Tensors

/// The held-out text the curve is measured on: the windows `eval --perplexity FILE --seq-len L
/// --stride L` scores.
public struct CurveHeldOut: Codable, Sendable, Equatable {
  public let file: String
  public let documents: Int
  public let seqLen: Int
  public let windows: Int
  public let tokens: Int

  public init(file: String, documents: Int, seqLen: Int, windows: [TextWindow]) {
    self.file = file
    self.documents = documents
    self.seqLen = seqLen
    self.windows = windows.count
    tokens = windows.reduce(0) { $0 + $1.targets.count }
  }

  enum CodingKeys: String, CodingKey {
    case file, documents, windows, tokens
    case seqLen = "seq_len"
  }
}
