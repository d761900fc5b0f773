import Foundation
import Models
import Tensors

/// Mean squared error between the replacement's output R(h_i) and the block's output h_i+k,
/// over every element (LLM-Streamline's loss).
struct MSEObjective: TrainingObjective {
  var throughTop: Bool { false }
  var needsTeacherHead: Bool { false }
  var reportsPlainRemoval: Bool { true }

  func states(start: Int, end: Int, layers: Int) -> [Int] { [end] }

  func targets(in data: TrainingData) -> UnsafePointer<Float>? { data.targets }

  func loss(
    x: Tensor, targets: Tensor?, batch: Batch, tokens: [[Int]], top: FrozenTop?,
    gradient: UnsafeMutablePointer<Float>?, scale: Float
  ) -> (loss: Double, weight: Double) {
    let loss = Kernels.mseLoss(
      x.pointer, target: targets!.pointer, count: x.count, gradient: gradient,
      scale: gradient == nil ? 1 : scale)
    return (loss, Double(x.count))
  }
}
