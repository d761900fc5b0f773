import Checkpoint
import Foundation
import Models
import Tensors
import Testing

@testable import Streamline

/// `--heal-neighbors`: the layers beside the block train with the replacement.
@Suite struct HealingTests {
  let replacement = ReplacementTests()

  func healing(_ loss: TrainingLoss) -> CompressionRequest {
    var request = replacement.request(.layer, loss: loss)
    request.training.epochs = 1
    request.training.healNeighbors = true
    return request
  }

  @Test func distillationHealsTheLayersBeforeAndAfterTheBlock() throws {
    let plan = try replacement.plan(healing(.kd))
    let report = try #require(plan.training)
    let source = try ModelFolder(url: Fixtures.model("llama-gqa"))
    let layers = try DecoderModel(url: Fixtures.model("llama-gqa")).config.numLayers
    var healed = [Int]()
    if plan.start > 0 { healed.append(plan.start - 1) }
    if plan.end < layers { healed.append(plan.end) }
    #expect(!healed.isEmpty && report.healedLayers == healed)
    let record = PruneRecord(
      plan: plan, config: try DecoderModel(url: Fixtures.model("llama-gqa")).config,
      output: "out", replacement: .layer, compute: ComputeRecord(precision: .f32))
    #expect(
      record.text.contains(
        "healed beside it: layers \(healed.map(String.init).joined(separator: " and "))"))
    #expect(report.bestValidation < report.initialValidation)
    // Every healed layer is written, and trained away from its source weights.
    for index in healed + [plan.start] {
      let name = LlamaConfig.layerPrefix(index) + "mlp.down_proj.weight"
      #expect(try replacement.written(plan, name) != source.float(name).toArray())
    }
    // Healing starts where plain training starts: the layer before reproduces the block input.
    var plain = healing(.kd)
    plain.training.healNeighbors = false
    let unhealed = try #require(try replacement.plan(plain).training)
    #expect(unhealed.healedLayers == nil)
    #expect(
      abs(report.initialValidation - unhealed.initialValidation)
        <= 1e-4 * unhealed.initialValidation)
  }

  @Test func hiddenStateLossHealsOnlyTheLayerBefore() throws {
    let plan = try replacement.plan(healing(.mse))
    let report = try #require(plan.training)
    #expect(report.healedLayers == (plan.start > 0 ? [plan.start - 1] : []))
  }

  @Test func healingNeedsATrainedReplacement() throws {
    for kind in [ReplacementKind.none, .linear] {
      var request = healing(.kd)
      request.replacement = kind
      #expect(throws: CompressionError.healingNeedsTrainedReplacement) {
        _ = try replacement.plan(request)
      }
    }
  }

  /// The gradient reaching the healed layer before the replacement, through the replacement,
  /// matches central differences of the loss.
  @Test func gradientThroughTheStagesMatchesFiniteDifferences() throws {
    let folder = try ModelFolder(url: Fixtures.model("llama-gqa"))
    let config = try DecoderModel(url: Fixtures.model("llama-gqa")).config
    var generator = SplitMix(seed: 7)
    let (rows, c) = (12, config.hiddenSize)
    let (preceding, targets) = Fixtures.randomStatePair(rows: rows, width: c, using: &generator)
    var options = TrainingOptions()
    options.loss = .mse
    options.microBatch = 2
    let before = try config.loadLayer(0, from: folder, precision: .f32)
    let trainer = try ReplacementTrainer(
      layer: try config.loadLayer(1, from: folder, precision: .f32),
      data: TrainingData(
        lengths: [6, 6], inputs: preceding.pointer, targets: targets.pointer, tokens: [],
        width: c, preceding: preceding.pointer),
      options: options, neighbors: HealedNeighbors(before: before, after: nil, rateScale: 0.1))
    try Self.expectCentralDifferences(
      trainer, weight: before.parameters[0], gradient: trainer.stages[0].gradients.tensors[0])
  }

  /// A layer of the frozen top that trains (an earlier replacement of compensated removal)
  /// gets the gradient of the loss at the model's output: central differences agree.
  @Test func gradientOfALayerTrainingAboveTheBlockMatchesFiniteDifferences() throws {
    let folder = try ModelFolder(url: Fixtures.model("llama-gqa"))
    let config = try DecoderModel(url: Fixtures.model("llama-gqa")).config
    var generator = SplitMix(seed: 11)
    let (rows, c) = (12, config.hiddenSize)
    let inputs = Tensor(uninitialized: [rows, c])
    for i in 0..<inputs.count { inputs.data[i] = generator.nextSigned() }
    let tokens = (0..<2).map { _ in (0..<6).map { _ in Int(generator.next() % 128) } }
    var options = TrainingOptions()
    options.loss = .lm
    options.microBatch = 2
    let load = { try config.loadLayer($0, from: folder, precision: .f32) }
    let top = FrozenTop(
      layers: try (2..<config.numLayers).map(load),
      head: try config.loadHead(from: folder, precision: .f32))
    let above = try load(3)
    let trainer = try ReplacementTrainer(
      layer: try load(1),
      data: TrainingData(
        lengths: [6, 6], inputs: inputs.pointer, targets: nil, tokens: tokens, width: c),
      options: options, top: top, above: [1: (above, nil)])
    #expect(trainer.allStages.count == 2 && trainer.allStages[1].layer === above)
    try Self.expectCentralDifferences(
      trainer, weight: above.parameters[0], gradient: trainer.allStages[1].gradients.tensors[0])
  }

  /// One forward and backward of sequences 0 and 1 (then `gradientsReady`, when the gradient is
  /// derived from the layers') gives `gradient` of `weight`; at its largest entry (which is not
  /// zero) it matches central differences of the loss within 2%. `changed` runs after each
  /// change of `weight`, for a weight the model reads through another (an adapter).
  static func expectCentralDifferences(
    _ trainer: ReplacementTrainer, weight: Tensor, gradient: Tensor,
    gradientsReady: () -> Void = {}, changed: () -> Void = {}
  ) throws {
    for stage in trainer.allStages { stage.gradients.zero() }
    _ = try trainer.accumulate([0, 1], scale: 1)
    gradientsReady()
    let index = (0..<gradient.count).max { abs(gradient.data[$0]) < abs(gradient.data[$1]) }!
    #expect(gradient.data[index] != 0)
    let saved = weight.data[index]
    let step: Float = 1e-2
    weight.data[index] = saved + step
    changed()
    let up = try trainer.evaluate([0, 1])
    weight.data[index] = saved - step
    changed()
    let down = try trainer.evaluate([0, 1])
    weight.data[index] = saved
    changed()
    let numeric = (up - down) / Double(2 * step)
    let analytic = Double(gradient.data[index])
    #expect(abs(numeric - analytic) <= 0.02 * abs(analytic), "\(numeric) vs \(analytic)")
  }
}
