import Foundation
import Models
import Tensors

/// Distillation: KL(original ‖ pruned) of the next-token distributions, the teacher's from the
/// original model's final residual state h_L (captured), the student's through the frozen
/// layers above the block; the mean is over rows.
struct DistillationObjective: TrainingObjective {
  var throughTop: Bool { true }
  var needsTeacherHead: Bool { true }
  var reportsPlainRemoval: Bool { false }

  /// The original's final state h_L, the teacher: each training sequence then runs through
  /// every layer when captured.
  func states(start: Int, end: Int, layers: Int) -> [Int] { [layers] }

  func targets(in data: TrainingData) -> UnsafePointer<Float>? { data.teacher }

  func loss(
    x: Tensor, targets: Tensor?, batch: Batch, tokens: [[Int]], top: FrozenTop?,
    gradient: UnsafeMutablePointer<Float>?, scale: Float
  ) -> (loss: Double, weight: Double) {
    let top = top!
    let loss = Distillation.compute(
      x: x.pointer, teacher: targets!.pointer, rows: batch.rows, head: top.head,
      teacherHead: top.teacherHead, dx: gradient,
      gradientScale: gradient.map { _ in scale / Float(max(1, batch.rows)) })
    return (loss, Double(batch.rows))
  }
}
