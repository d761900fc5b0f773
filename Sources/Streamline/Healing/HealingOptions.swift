import Foundation

/// What trains when the pruned model heals.
public enum HealScope: String, Codable, Sendable, CaseIterable {
  /// Low-rank adapters on every matrix of every layer, merged into the weights at the end
  /// (Gromov et al. 2024; Shortened LLaMA).
  case lora
  /// The last `lastLayers` layers, whole ("Reassessing Layer Pruning", ICLR 2026).
  case last
  /// Every layer, whole (distillation of the whole student, as Minitron).
  case all
}

/// The rank and scale of low-rank adapters: each matrix runs as `W + (alpha / rank)·B·A`.
public struct AdapterSettings: Codable, Sendable, Equatable {
  public var rank = 8
  public var alpha = 16.0

  public init(rank: Int = 8, alpha: Double = 16) {
    self.rank = rank
    self.alpha = alpha
  }
}

/// Healing: after the block is removed and replaced, the whole pruned model distils from the
/// original (KL of the next-token distributions, as `kd` training) on sequences of its own,
/// training `scope`'s parameters; the best weights on a held-out split are kept, the pruned
/// model as it was among them.
public struct HealingOptions: Codable, Sendable {
  public var scope = HealScope.lora
  /// Layers `last` trains, counted from the top.
  public var lastLayers = 3
  public var adapters = AdapterSettings()
  /// The optimizer's settings; the loss is always distillation.
  public var training: TrainingOptions

  public init(scope: HealScope = .lora) {
    self.scope = scope
    training = TrainingOptions()
    training.loss = .kd
    training.learningRate = Self.defaultLearningRate(scope)
    training.minimumLearningRate = training.learningRate / 10
    // Every layer trains at the rate asked for: the trainer's rate for layers above its first
    // stage is a share of it.
    training.retrainRateScale = 1
  }

  /// Adapters start at zero and move a low-rank slice of each matrix, whole layers move every
  /// weight: the rates differ by about the ratio PEFT recipes use.
  public static func defaultLearningRate(_ scope: HealScope) -> Double {
    switch scope {
    case .lora: 1e-3
    case .last, .all: 1e-4
    }
  }

  enum CodingKeys: String, CodingKey {
    case scope, adapters, training
    case lastLayers = "last_layers"
  }
}
