import Foundation
import Models
import Tensors

/// The pruned model's own next-token loss, through the frozen layers above the block and the
/// head; the mean is over the tokens that have a next token.
struct LanguageModelObjective: TrainingObjective {
  var throughTop: Bool { true }
  var needsTeacherHead: Bool { false }
  var reportsPlainRemoval: Bool { false }

  func states(start: Int, end: Int, layers: Int) -> [Int] { [] }

  func targets(in data: TrainingData) -> UnsafePointer<Float>? { nil }

  func loss(
    x: Tensor, targets: Tensor?, batch: Batch, tokens: [[Int]], top: FrozenTop?,
    gradient: UnsafeMutablePointer<Float>?, scale: Float
  ) -> (loss: Double, weight: Double) {
    let next = LanguageModelLoss.nextTokenTargets(tokens)
    // The gradient of the mean over predicted tokens: each token's share of `scale`.
    let share = gradient.map { _ in scale / Float(max(1, next.filter { $0 >= 0 }.count)) }
    let (loss, count) = LanguageModelLoss.compute(
      x: x.pointer, rows: batch.rows, targets: next, head: top!.head, dx: gradient,
      gradientScale: share)
    return (loss, Double(count))
  }
}
