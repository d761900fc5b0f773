import Checkpoint
import Evaluation
import Foundation
import Models

/// One task's accuracies as reported by `eval` and `compare`.
public struct TaskReport: Codable, Sendable {
  public var task: String
  public var file: String
  public var items: Int
  public var acc: Double
  public var accStderr: Double
  public var accNorm: Double
  public var accNormStderr: Double
  public var seconds: Double

  enum CodingKeys: String, CodingKey {
    case task, file, items, acc, seconds
    case accStderr = "acc_stderr"
    case accNorm = "acc_norm"
    case accNormStderr = "acc_norm_stderr"
  }

  public init(_ score: TaskScore, file: String, seconds: Double) {
    task = score.name
    self.file = file
    items = score.items.count
    acc = score.acc
    accStderr = score.accStderr
    accNorm = score.accNorm
    accNormStderr = score.accNormStderr
    self.seconds = seconds
  }

  public var text: String {
    String(
      format: "%@: acc %.4f ± %.4f · acc_norm %.4f ± %.4f (%d items, %.1f s)", task, acc,
      accStderr, accNorm, accNormStderr, items, seconds)
  }
}
