import Checkpoint
import Evaluation
import Foundation
import Models
import Tensors
import Testing

@testable import Streamline

/// Candidates measured in memory are the models `prune` would write.
@Suite struct CandidateTests {
  let replacement = ReplacementTests()

  @Test func theOriginalHasNoDivergenceFromItself() throws {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    let windows = try replacement.sequences(6).map { TextWindow(wholeSequence: $0) }
    let reference = try ReferenceDistributions(
      model: model, windows: windows, memoryBudget: 1 << 20)
    let again = try reference.measure(model)
    #expect(again.tokens == windows.reduce(0) { $0 + $1.targets.count })
    #expect(abs(again.perplexity / reference.original.perplexity - 1) < 1e-5)
    #expect(abs(again.kl) < 1e-6)
  }

  /// Candidates measured together, with the original's logits computed once for all of them,
  /// are each what it is measured alone, whether the windows run in one forward or in several
  /// (a budget of a few rows) and the logits in blocks of a few rows; only oneDNN's order of sums over other row counts differs
  /// (1e-5 relative, as the other tests here).
  @Test func candidatesMeasuredTogetherAreEachMeasuredAlone() throws {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    let windows = try replacement.sequences(6).map { TextWindow(wholeSequence: $0) }
    let all = Array(0..<model.config.numLayers)
    let candidates = [[1], [2, 3], [0, 4]].map { gone in
      CandidateModel(model, layers: all.filter { !gone.contains($0) })
    }
    let c = model.config.hiddenSize * MemoryLayout<Float>.size
    for budget in [1 << 24, 20 * c * (candidates.count + 1)] {
      let reference = try ReferenceDistributions(
        model: model, windows: windows, memoryBudget: budget)
      reference.headRows = 7  // logits in blocks of rows that cut through windows
      var steps: [(Int, Int)] = []
      let together = try reference.measure(candidates) { steps.append(($0, $1)) }
      reference.headRows = 1 << 20
      #expect(steps.last.map { $0.0 == $0.1 } == true)
      #expect(budget > 1 << 20 ? steps.count == candidates.count + 1 : steps.count > 4)
      for (candidate, loss) in zip(candidates, together) {
        let alone = try reference.measure(model, layers: candidate.layers)
        #expect(loss.tokens == alone.tokens)
        #expect(abs(loss.perplexity / alone.perplexity - 1) < 1e-5, "\(loss) vs \(alone)")
        #expect(abs(loss.kl - alone.kl) <= 1e-5 * alone.kl, "\(loss) vs \(alone)")
        #expect(loss.kl > 0)
      }
    }
  }

  /// The map fitted in memory (on the same split of the same sequences) and the layers skipped
  /// give the perplexity and KL of the checkpoint `prune --replace linear` writes.
  @Test func aLinearCandidateIsTheCheckpointPruneWrites() throws {
    let url = Fixtures.model("llama-gqa")
    let model = try DecoderModel(url: url)
    let training = try replacement.sequences()
    var request = replacement.request(.linear)
    request.layers = [2, 3]
    let plan = try Compression.plan(
      model: model, sequences: training, request: request,
      progress: { Progress($0, style: .off) })
    let output = Fixtures.temporary("candidate-linear")
    defer { try? FileManager.default.removeItem(at: output) }
    _ = try Surgery.write(
      source: model.folder!, config: model.config, removing: plan.removed,
      overrides: plan.overrides, manifest: [:], to: output)
    let written = try DecoderModel(url: output)

    let block = SelectedBlock(start: 2, end: 4, layers: [2, 3])
    let store = try StateStore(
      states: LinearMap.candidateStates([block]), rows: training.reduce(0) { $0 + $1.count },
      width: model.config.hiddenSize, memoryLimit: 1 << 30)
    try StateCapture.run(model: model, sequences: training, into: store, memoryBudget: 1 << 20)
    let (fitting, _) = try ReplacementTrainer.split(
      training.count, fraction: request.training.validationFraction, seed: request.training.seed)
    let substitute = try #require(
      try LinearMap.substitute(
        for: block, model: model, store: store, lengths: training.map(\.count), fitting: fitting))
    #expect(substitute.layer == 1)

    let heldOut = try replacement.sequences(8)
    let reference = try ReferenceDistributions(
      model: model, windows: heldOut.map { TextWindow(wholeSequence: $0) }, memoryBudget: 1 << 20)
    let candidate = try reference.measure(
      model, layers: [0, 1] + Array(4..<model.config.numLayers),
      substitutes: [substitute.layer: substitute.replacement])
    let pruned = try reference.measure(written)
    // Equal up to the order oneDNN sums in, which differs with the rows in a product (1e-5 of
    // scale, Higham's bound for reordered Float32 sums of this length).
    #expect(candidate.kl > 0)
    #expect(abs(candidate.perplexity / pruned.perplexity - 1) < 1e-5, "\(candidate) vs \(pruned)")
    #expect(abs(candidate.kl - pruned.kl) <= 1e-5 * pruned.kl, "\(candidate) vs \(pruned)")
    // And as the held-out evaluation of `prune` scores the written model.
    let held = try HeldOutEvaluation.perplexity(written, layers: nil, sequences: heldOut)
    #expect(abs(held.perplexity / pruned.perplexity - 1) < 1e-5)
  }
}
