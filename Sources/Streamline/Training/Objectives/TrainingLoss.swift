import Foundation
import Models
import Tensors

/// The loss a replacement is trained with. Each case is one `TrainingObjective`, registered in
/// `objective` below: adding a loss is its file, a case here and its line there.
public enum TrainingLoss: String, Codable, Sendable, CaseIterable {
  /// Mean squared error between R(h_i) and h_i+k over every token (LLM-Streamline).
  case mse
  /// The language-model loss of the whole pruned model, every other weight frozen.
  case lm
  /// Distillation: KL(original ‖ pruned) of the next-token distributions (temperature 1),
  /// through the frozen rest of the model, the teacher read from the original's h_L.
  case kd

  /// The registry: the objective each loss names.
  public var objective: any TrainingObjective {
    switch self {
    case .mse: MSEObjective()
    case .lm: LanguageModelObjective()
    case .kd: DistillationObjective()
    }
  }

  /// Whether training backpropagates through the layers after the block and the head.
  public var throughTop: Bool { objective.throughTop }
}
