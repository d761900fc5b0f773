import Checkpoint
import Foundation
import Models
import Tensors
import Testing

@testable import Streamline

/// The method as parts: each replacement and objective says what it needs, and the recipe
/// reaches them only through their registries.
@Suite struct PartsTests {
  @Test func objectivesSayWhichStatesTheyRead() {
    #expect(TrainingLoss.mse.objective.states(start: 2, end: 5, layers: 8) == [5])
    #expect(TrainingLoss.lm.objective.states(start: 2, end: 5, layers: 8) == [])
    #expect(TrainingLoss.kd.objective.states(start: 2, end: 5, layers: 8) == [8])
    #expect(TrainingLoss.allCases.filter(\.throughTop) == [.lm, .kd])
  }

  @Test func replacementsSayWhichStatesTheyNeed() {
    var options = TrainingOptions()
    options.initialization = .first
    let states = { (kind: ReplacementKind) in
      kind.implementation.states(start: 2, end: 5, layers: 8, options: options)
    }
    #expect(states(.none) == [])
    #expect(states(.linear) == [1, 5])
    #expect(states(.layer) == [2])
    options.initialization = .auto
    options.healNeighbors = true
    #expect(Set(states(.ffn)) == [1, 2, 5])
    #expect(ReplacementKind.allCases.filter(\.isTrained) == [.layer, .ffn])
    #expect(ReplacementKind.allCases.map { $0.blockWidth(removing: 3) } == [3, 4, 4, 3])
  }

  /// Evaluation is the training loss without its gradient: one micro-batch scores the same
  /// through `evaluate` as through `accumulate`, for every objective.
  @Test(arguments: TrainingLoss.allCases)
  func evaluationIsTheLossWithoutItsGradient(_ loss: TrainingLoss) throws {
    let folder = try ModelFolder(url: Fixtures.model("llama-gqa"))
    let config = try DecoderModel(url: Fixtures.model("llama-gqa")).config
    var generator = SplitMix(seed: 11)
    let (rows, c) = (12, config.hiddenSize)
    let (inputs, targets) = Fixtures.randomStatePair(rows: rows, width: c, using: &generator)
    let tokens = (0..<2).map { _ in
      (0..<6).map { _ in Int(generator.next() % UInt64(config.vocabSize)) }
    }
    var options = TrainingOptions()
    options.loss = loss
    options.microBatch = 2
    let load = { (index: Int) in try config.loadLayer(index, from: folder, precision: .f32) }
    let top =
      loss.throughTop
      ? FrozenTop(
        layers: try (2..<config.numLayers).map(load),
        head: try config.loadHead(from: folder, precision: .f32))
      : nil
    let trainer = try ReplacementTrainer(
      layer: try load(1),
      data: TrainingData(
        lengths: [6, 6], inputs: inputs.pointer, targets: targets.pointer, tokens: tokens,
        width: c, teacher: targets.pointer),
      options: options, top: top)
    let evaluated = try trainer.evaluate([0, 1])
    let trained = try trainer.accumulate([0, 1], scale: 1)
    #expect(abs(evaluated - trained) <= 1e-4 * max(1, abs(trained)), "\(evaluated) vs \(trained)")
  }
}
