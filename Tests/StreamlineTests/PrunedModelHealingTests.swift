import Checkpoint
import Foundation
import Models
import Tensors
import Testing

@testable import Streamline

/// `--heal`: the whole pruned model distils from the original after the replacement.
@Suite struct PrunedModelHealingTests {
  let replacement = ReplacementTests()

  /// Two layers removed, nothing in their place, then healing of `scope` on 16 sequences of
  /// its own.
  func request(_ scope: HealScope, kind: ReplacementKind = .none) -> CompressionRequest {
    var request = replacement.request(kind, loss: .kd)
    request.training.epochs = 1
    var healing = HealingOptions(scope: scope)
    healing.lastLayers = 1
    healing.training.epochs = 2
    healing.training.microBatch = 2
    request.healing = healing
    return request
  }

  func plan(_ request: CompressionRequest) throws -> CompressionPlan {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    let sequences = try replacement.sequences(40)
    return try Compression.plan(
      model: model, scoring: Array(sequences[..<8]), training: Array(sequences[8..<24]),
      healing: Array(sequences[24...]), request: request,
      progress: { Progress($0, style: .off) })
  }

  func kept(_ plan: CompressionPlan) throws -> [Int] {
    let layers = try DecoderModel(url: Fixtures.model("llama-gqa")).config.numLayers
    return (0..<layers).filter { !plan.removed.contains($0) }
  }

  @Test func adaptersHealEveryLayerAndImproveOnTheHeldOutSplit() throws {
    let plan = try plan(request(.lora))
    let healing = try #require(plan.healing)
    let kept = try kept(plan)
    #expect(healing.scope == .lora && healing.layers == kept && healing.adapters?.rank == 8)
    #expect(healing.sequences == 16 && healing.tokens == 16 * 24)
    #expect(healing.training.bestValidation < healing.training.initialValidation)
    // Every kept layer's matrices are written, merged with their adapters; norms are not
    // adapted.
    let source = try ModelFolder(url: Fixtures.model("llama-gqa"))
    for layer in kept {
      let prefix = LlamaConfig.layerPrefix(layer)
      for name in ["self_attn.q_proj.weight", "mlp.down_proj.weight"] {
        #expect(
          try replacement.written(plan, prefix + name) != source.float(prefix + name).toArray())
      }
      let norm = prefix + "input_layernorm.weight"
      #expect(try replacement.written(plan, norm) == source.float(norm).toArray())
    }
  }

  @Test func lastLayersHealAloneAndTheRestIsCopied() throws {
    let plan = try plan(request(.last))
    let healing = try #require(plan.healing)
    let kept = try kept(plan)
    #expect(healing.layers == [kept.last!] && healing.adapters == nil)
    #expect(healing.training.bestValidation < healing.training.initialValidation)
    #expect(plan.overrides.keys.allSatisfy { $0.hasPrefix(LlamaConfig.layerPrefix(kept.last!)) })
  }

  /// Healing after a trained replacement starts from the model the replacement made: the
  /// healing's first validation is that model's KL, and the replacement's layer heals too.
  @Test func healingFollowsATrainedReplacement() throws {
    let plan = try plan(request(.all, kind: .layer))
    let healing = try #require(plan.healing)
    #expect(healing.layers.contains(plan.start) && plan.training != nil)
    #expect(healing.training.bestValidation < healing.training.initialValidation)
  }

  /// An MLP replacement keeps its attention switched off while the model heals.
  @Test func anMLPReplacementHealsAsAnMLP() throws {
    let plan = try plan(request(.lora, kind: .ffn))
    let output = LlamaConfig.layerPrefix(plan.start) + "self_attn.o_proj.weight"
    #expect(try replacement.written(plan, output).allSatisfy { $0 == 0 })
  }

  @Test func healingNeedsTwoSequences() throws {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    let sequences = try replacement.sequences(12)
    #expect(throws: CompressionError.tooFewHealingSequences(1)) {
      _ = try Compression.plan(
        model: model, scoring: Array(sequences[..<8]), training: [],
        healing: [sequences[8]], request: request(.lora),
        progress: { Progress($0, style: .off) })
    }
  }

  /// The adapters' gradients, projected from the layer's weight gradient, match central
  /// differences of the loss in A and B; merging writes W₀ + (alpha / rank)·B·A.
  @Test func adapterGradientsMatchFiniteDifferencesAndMergeAddsTheProduct() throws {
    let folder = try ModelFolder(url: Fixtures.model("llama-gqa"))
    let config = try DecoderModel(url: Fixtures.model("llama-gqa")).config
    var generator = SplitMix(seed: 5)
    let (rows, c) = (12, config.hiddenSize)
    let (inputs, targets) = Fixtures.randomStatePair(rows: rows, width: c, using: &generator)
    var options = TrainingOptions()
    options.loss = .mse
    options.microBatch = 2
    let layer = try config.loadLayer(1, from: folder, precision: .f32)
    let original = layer.parameters.map { $0.copy() }
    let trainer = try ReplacementTrainer(
      layer: layer,
      data: TrainingData(
        lengths: [6, 6], inputs: inputs.pointer, targets: targets.pointer, tokens: [], width: c),
      options: options, adapters: AdapterSettings(rank: 4, alpha: 8))
    let adapters = try #require(trainer.stages[0].adapters)
    // B starts at zero, so the merged weights are the layer's own; give B values to check both
    // gradients away from that point.
    for adapter in adapters.adapters {
      for i in 0..<adapter.b.count { adapter.b.data[i] = 0.05 * generator.nextSigned() }
    }
    adapters.merge()
    let first = adapters.adapters[0]
    var expected = [Float](repeating: 0, count: first.n * first.k)
    for i in 0..<first.n {
      for j in 0..<first.k {
        var sum: Float = 0
        for r in 0..<4 { sum += first.b.data[i * 4 + r] * first.a.data[r * first.k + j] }
        expected[i * first.k + j] = 2 * sum
      }
    }
    // The first adapter is q_proj's: rows 0..<n of the stacked q/k/v tensor.
    let stacked = layer.parameters.firstIndex { $0.pointer == first.weight }!
    for i in 0..<(first.n * first.k) {
      let merged = layer.parameters[stacked].data[i] - original[stacked].data[i]
      #expect(abs(merged - expected[i]) <= 1e-5)
    }

    // The first adapter's gradients, one draw at a time: the model reads A and B through the
    // merged weight, so each change is merged before the loss is taken.
    for (tensor, gradient) in [(first.a, first.aGradient), (first.b, first.bGradient)] {
      try HealingTests.expectCentralDifferences(
        trainer, weight: tensor, gradient: gradient, gradientsReady: adapters.project,
        changed: adapters.merge)
    }
  }
}
