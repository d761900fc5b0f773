import Checkpoint
import Crypto
import Foundation
import Models

/// A field of a scoring-statistics file that cannot be what `analyze --save-stats` wrote.
public struct ScoringStatsError: Error, CustomStringConvertible, Equatable {
  public let path: String
  /// The field, as in the file: "sums.cosine[2][3]".
  public let field: String
  public let reason: String

  public var description: String { "\(path): \(field) \(reason)" }
}
