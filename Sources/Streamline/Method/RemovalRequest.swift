import Foundation
import Models

/// How many layers to take out.
public enum RemovalRequest: Sendable, Equatable {
  case layers(Int)
  /// Share of all parameters to remove, net of the replacement's own parameters.
  case sparsity(Double)
}
