import Evaluation
import Foundation
import Models
import Tensors

/// A request the curve cannot answer, in the library's words (the command line words it with
/// its flags).
public enum CurveError: Error, CustomStringConvertible, Equatable {
  /// Fewer than one layer, or more than can go while a layer stays.
  case removalOutOfRange(requested: Int, maximum: Int, layers: Int)
  /// `bi` picks scattered layers, which the linear map cannot replace.
  case scatteredMetric(ImportanceMetric)
  /// The map is fitted on a training split of at least two sequences.
  case tooFewTrainingSequences(Int)
  /// The held-out text makes no window to score.
  case noHeldOutWindows

  public var description: String {
    switch self {
    case .removalOutOfRange(let requested, let maximum, let layers):
      "the curve cannot remove \(requested) layers of \(layers): from 1 to \(maximum) can go, leaving at least one layer"
    case .scatteredMetric(let metric):
      "the \(metric.rawValue) metric picks layers that need not be contiguous, and the linear map replaces one contiguous block"
    case .tooFewTrainingSequences(let count):
      "the linear map is fitted on training sequences beyond the scored ones: \(count) is fewer than 2"
    case .noHeldOutWindows:
      "the held-out text holds no token to predict"
    }
  }
}
