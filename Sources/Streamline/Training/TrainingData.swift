import Foundation
import Models
import Tensors

/// Training pairs: the input state h_i of every training sequence, and either the target state
/// h_i+k (MSE) or the tokens (language-model loss). Rows are sequences laid end to end.
public struct TrainingData {
  public let lengths: [Int]
  public let inputs: UnsafePointer<Float>  // [rows, C]
  public let targets: UnsafePointer<Float>?  // [rows, C]
  public let tokens: [[Int]]
  public let width: Int
  /// The original model's final residual state h_L of every row (distillation's teacher).
  public let teacher: UnsafePointer<Float>?  // [rows, C]
  /// The state before the layer ahead of the block, h_start−1: the input when that layer heals.
  public let preceding: UnsafePointer<Float>?  // [rows, C]

  public init(
    lengths: [Int], inputs: UnsafePointer<Float>, targets: UnsafePointer<Float>?,
    tokens: [[Int]], width: Int, teacher: UnsafePointer<Float>? = nil,
    preceding: UnsafePointer<Float>? = nil
  ) {
    self.lengths = lengths
    self.inputs = inputs
    self.targets = targets
    self.tokens = tokens
    self.width = width
    self.teacher = teacher
    self.preceding = preceding
  }

  var offsets: [Int] { lengths.reduce(into: [0]) { $0.append($0.last! + $1) } }
}
