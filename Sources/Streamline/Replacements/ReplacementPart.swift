import Checkpoint
import Foundation
import Models
import Tensors

/// What a replacement writes: the source layers dropped, the tensors it overrides, and how it
/// was trained or fitted.
public struct ReplacementPart {
  public let removed: [Int]
  public let overrides: [String: Surgery.Override]
  public let training: TrainingReport?
  public let linearFit: [String: Double]?

  public init(
    removed: [Int], overrides: [String: Surgery.Override] = [:], training: TrainingReport? = nil,
    linearFit: [String: Double]? = nil
  ) {
    self.removed = removed
    self.overrides = overrides
    self.training = training
    self.linearFit = linearFit
  }
}
