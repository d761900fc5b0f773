import Checkpoint
import Foundation
import Models
import Tensors
import Testing

@testable import Streamline

/// Initialisations of the replacement (`--init`) and the distillation loss (`--loss kd`).
@Suite struct InitializationTests {
  let base = ReplacementTests()

  func request(
    initialization: ReplacementInit, loss: TrainingLoss = .mse, layers: [Int]? = nil,
    epochs: Int = 1
  ) -> CompressionRequest {
    var request = base.request(.layer, loss: loss)
    request.training.initialization = initialization
    request.training.epochs = epochs
    if let layers {
      request.layers = layers
      request.removal = nil
    }
    return request
  }

  /// Deterministic values in [−scale, scale).
  static func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var generator = SplitMix(seed: seed)
    let count = shape.reduce(1, *)
    return Tensor(
      shape: shape,
      values: (0..<count).map { _ in
        Float(Double(generator.next() >> 11) / Double(1 << 53) * 2 - 1) * scale
      })
  }

  @Test func distillationGradientMatchesFiniteDifferences() throws {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    let head = try model.head()
    let c = model.config.hiddenSize
    let rows = 5
    let x = Self.random([rows, c], seed: 1, scale: 2)
    let teacher = Self.random([rows, c], seed: 2, scale: 2)
    let loss = {
      Distillation.compute(x: x.pointer, teacher: teacher.pointer, rows: rows, head: head)
    }
    let dx = Tensor(zeros: x.shape)
    let value = Distillation.compute(
      x: x.pointer, teacher: teacher.pointer, rows: rows, head: head, dx: dx.pointer)
    #expect(value > 0)
    var worst = 0.0
    var generator = SplitMix(seed: 3)
    let scale = Double(dx.data.map { abs($0) }.max()!)
    for _ in 0..<40 {
      let i = Int(generator.next() % UInt64(x.count))
      let saved = x.data[i]
      let h: Float = 1e-2
      x.data[i] = saved + h
      let up = loss()
      x.data[i] = saved - h
      let down = loss()
      x.data[i] = saved
      let numeric = (up - down) / Double(2 * h)
      worst = max(worst, abs(numeric - Double(dx.data[i])) / scale)
    }
    #expect(worst < 2e-2, "KD gradient off finite differences by \(worst) of its scale")
  }

  @Test func distillationOfTheTeacherItselfIsZero() throws {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    let head = try model.head()
    let x = Self.random([4, model.config.hiddenSize], seed: 4, scale: 2)
    let dx = Tensor(zeros: x.shape)
    let value = Distillation.compute(
      x: x.pointer, teacher: x.pointer, rows: 4, head: head, dx: dx.pointer)
    #expect(abs(value) < 1e-5)
    #expect(dx.data.allSatisfy { abs($0) < 1e-5 })
  }

  @Test func distillationTrainsThroughTheFrozenTopAndIsReproducible() throws {
    let first = try #require(try base.plan(request(initialization: .first, loss: .kd)).training)
    #expect(first.bestValidation < first.initialValidation)
    let again = try #require(try base.plan(request(initialization: .first, loss: .kd)).training)
    #expect(first.curve.map(\.loss) == again.curve.map(\.loss))
    #expect(first.bestValidation == again.bestValidation)
  }

  /// With the block fixed, `--init linear` on layer s of `s..<e` fits the same map as
  /// `--replace linear` of the layers `s+1..<e` (folded into layer s): the same training split,
  /// the same m, the same target. So training starts at the linear map's validation MSE.
  @Test func linearInitialisationStartsAtTheLinearMap() throws {
    let trained = try base.plan(request(initialization: .linear, layers: [2, 3, 4]))
    var linear = base.request(.linear)
    linear.removal = nil
    linear.layers = [3, 4]
    let map = try #require(try base.plan(linear).linearFit)
    let report = try #require(trained.training)
    let expected = try #require(map["validation_mse"])
    #expect(abs(report.initialValidation - expected) / expected < 1e-3)
    #expect(report.initialization?.chosen == .linear)
    let first = try #require(
      try base.plan(request(initialization: .first, layers: [2, 3, 4])).training)
    #expect(report.initialValidation < first.initialValidation)
  }

  @Test func mergeWeightsFollowTheStatedFormula() throws {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    let layers = try (1..<4).map { try model.layer($0) }
    let sequences = try base.sequences(6)
    let (embedded, batch) = try model.embed(sequences)
    let context = LayerContext(span: batch.span)
    try model.runLayer(try model.layer(0), on: embedded, batch: batch, context: context)
    let c = model.config.hiddenSize
    let data = TrainingData(
      lengths: sequences.map(\.count), inputs: embedded.pointer, targets: nil, tokens: sequences,
      width: c)
    let weights = ReplacementInitialization.mergeWeights(
      layers: layers, data: data, sequences: Array(sequences.indices))
    // The same, the long way: states entering layers 1, 2, 3 of the whole batch.
    let x = embedded.copy()
    var similarity = [1.0]
    for j in 1..<3 {
      try model.runLayer(layers[j - 1], on: x, batch: batch, context: context)
      var sum = 0.0
      for t in 0..<batch.rows {
        sum += ReplacementInitialization.cosine(x.row(t), embedded.row(t), count: c)
      }
      similarity.append(max(0, sum / Double(batch.rows)))
    }
    let total = similarity.reduce(0, +)
    for (got, want) in zip(weights, similarity.map { $0 / total }) {
      #expect(abs(got - want) < 1e-6)
    }
    #expect(abs(weights.reduce(0, +) - 1) < 1e-12)

    // The merge is the weighted average of every parameter.
    let copies = try (1..<4).map { try model.layer($0) }
    ReplacementInitialization.merge(copies, weights: weights)
    for (index, merged) in copies[0].parameters.enumerated() {
      let originals = layers.map { $0.parameters[index] }
      for i in stride(from: 0, to: merged.count, by: max(1, merged.count / 17)) {
        let want = zip(weights, originals).reduce(0.0) { $0 + $1.0 * Double($1.1.data[i]) }
        #expect(abs(Double(merged.data[i]) - want) < 1e-5)
      }
    }
  }

  @Test func autoTrainsTheCandidateWithTheLowestValidationLoss() throws {
    let plan = try base.plan(request(initialization: .auto))
    let report = try #require(plan.training)
    let initialization = try #require(report.initialization)
    #expect(initialization.requested == .auto)
    #expect(Set(initialization.validation.keys) == ["first", "linear", "merge"])
    let lowest = initialization.validation.min { $0.value < $1.value }!
    #expect(initialization.chosen.rawValue == lowest.key)
    #expect(report.initialValidation == lowest.value)
    #expect(initialization.mergeWeights?.count == plan.end - plan.start)
    // Recorded in the training report that goes into streamline.json.
    let json = try Format.json(report)
    #expect(json.contains("\"initialization\"") && json.contains("\"init\" : \"auto\""))
  }

  @Test func initialisationsWorkWithTheLanguageModelLosses() throws {
    for loss in [TrainingLoss.lm, .kd] {
      let report = try #require(
        try base.plan(request(initialization: .auto, loss: loss, layers: [2, 3, 4])).training)
      let initialization = try #require(report.initialization)
      #expect(initialization.validation.count == 3)
      #expect(report.bestValidation <= report.initialValidation)
    }
  }
}
