import Foundation
import Models
import Tensors

/// What training did: the loss curve and the validation losses that matter.
public struct TrainingReport: Codable, Sendable {
  public struct Point: Codable, Sendable {
    public let step: Int
    public let loss: Double?
    public let validation: Double?
    public let learningRate: Double

    enum CodingKeys: String, CodingKey {
      case step, loss, validation
      case learningRate = "learning_rate"
    }
  }

  public let options: TrainingOptions
  public let steps: Int
  public let trainSequences: Int
  public let validationSequences: Int
  public let tokensPerSecond: Double
  public let seconds: Double
  /// Validation loss of the identity (plain removal), for MSE training.
  public let plainRemovalValidation: Double?
  public let initialValidation: Double
  public let bestValidation: Double
  /// 0 when the initial weights were never beaten (and are what was kept).
  public let bestStep: Int
  public let curve: [Point]
  /// The initialisation chosen and each candidate's validation loss (set by `Compression`).
  public var initialization: InitializationReport?
  /// Source layers next to the block trained with it (`--heal-neighbors`; set by `Compression`).
  public var healedLayers: [Int]?
  /// Layers above the block trained with it: the earlier replacements of compensated removal,
  /// numbered as in the model the step pruned.
  public var trainedAbove: [Int]?

  enum CodingKeys: String, CodingKey {
    case options, steps, seconds, curve
    case trainSequences = "train_sequences"
    case validationSequences = "validation_sequences"
    case tokensPerSecond = "tokens_per_second"
    case plainRemovalValidation = "plain_removal_validation"
    case initialValidation = "initial_validation"
    case bestValidation = "best_validation"
    case bestStep = "best_step"
    case initialization
    case healedLayers = "healed_layers"
    case trainedAbove = "trained_above"
  }
}
