import Foundation
import Models
import Tensors

/// What a training loss needs and computes, in one place: the captured states it reads, which
/// of them it compares with, and the loss itself, with its gradient or without it. Evaluation
/// is the loss without the gradient, so training and validation cannot measure different
/// things.
public protocol TrainingObjective: Sendable {
  /// Whether the loss is taken at the model's output, so the replacement's output runs through
  /// the frozen layers above the block and the head (and the gradient back through them).
  var throughTop: Bool { get }

  /// Whether the teacher's head runs too (the original model's next-token distribution).
  var needsTeacherHead: Bool { get }

  /// Whether the validation loss of plain removal (the identity in the replacement's place)
  /// means anything to compare with: only for a loss on the block's own output.
  var reportsPlainRemoval: Bool { get }

  /// The residual states the loss reads besides the block input, for the block `start..<end`
  /// of a model of `layers` layers.
  func states(start: Int, end: Int, layers: Int) -> [Int]

  /// The captured rows the loss compares with (`[rows, C]`), nil when it reads tokens only.
  func targets(in data: TrainingData) -> UnsafePointer<Float>?

  /// The loss of `x` (`[rows, C]`: the replacement's output, or the model's final residual
  /// state when `throughTop`) over `batch`, as a mean and the weight it is a mean over;
  /// `targets` holds the rows of `targets(in:)` for the same sequences. When `gradient` is
  /// given, dL/dx, each mean scaled by `scale`, is added into it; without it nothing is
  /// written, which is all evaluation is.
  func loss(
    x: Tensor, targets: Tensor?, batch: Batch, tokens: [[Int]], top: FrozenTop?,
    gradient: UnsafeMutablePointer<Float>?, scale: Float
  ) -> (loss: Double, weight: Double)
}
