import Checkpoint
import Evaluation
import Foundation
import Models
import Tensors
import Testing

@testable import Streamline

/// Blocks chosen by measured loss among the best by similarity.
@Suite struct MeasuredSelectionTests {
  let replacement = ReplacementTests()

  func request(_ kind: ReplacementKind, candidates: Int) -> CompressionRequest {
    var request = replacement.request(kind)
    request.removal = .layers(2)
    request.selection = .measured
    request.candidates = candidates
    return request
  }

  /// The candidates are the best by cosine, the lowest KL is kept, and its measured numbers
  /// are those of the checkpoint `prune` writes for it.
  @Test func theChosenCandidateIsMeasuredAsWritten() throws {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    let sequences = try replacement.sequences()
    let request = request(.linear, candidates: 3)
    let plan = try Compression.plan(
      model: model, sequences: sequences, request: request,
      progress: { Progress($0, style: .off) })
    let analysis = try #require(plan.analysis)
    let measured = try #require(analysis.measured)
    let ranked = Importance.ranked(analysis.blocks, by: .cosine).prefix(3)
    #expect(measured.map(\.start) == ranked.map(\.start))
    #expect(measured.allSatisfy { $0.compensation == "linear" && $0.kl > 0 })
    let best = measured.min { $0.kl < $1.kl }!
    #expect(analysis.selection == .measured && analysis.chosen.start == best.start)
    #expect(plan.start == best.start && plan.removed == Array(best.start..<best.end))

    let output = Fixtures.temporary("measured-linear")
    defer { try? FileManager.default.removeItem(at: output) }
    _ = try Surgery.write(
      source: model.folder!, config: model.config, removing: plan.removed,
      overrides: plan.overrides, manifest: [:], to: output)
    let scoring = Array(sequences.prefix(request.scoringSamples))
    let reference = try ReferenceDistributions(
      model: model, windows: scoring.map { TextWindow(wholeSequence: $0) },
      memoryBudget: request.memoryBudget)
    let written = try reference.measure(try DecoderModel(url: output))
    // Equal up to the order oneDNN sums in (1e-5 of scale).
    #expect(abs(written.kl - best.kl) <= 1e-5 * best.kl, "\(written) vs \(best)")
    #expect(abs(written.perplexity / best.perplexity - 1) <= 1e-5)

    let record = PruneRecord(
      plan: plan, config: model.config, output: "out", replacement: .linear,
      compute: ComputeRecord(precision: .f32))
    #expect(try record.manifest()["selection"] as? String == "measured")
    #expect(AnalysisReport.table(analysis).contains("measured among the best by cosine"))
  }

  /// One candidate is the similarity choice, beside reverse order; trained replacements are
  /// measured from the map folded into the block's first layer, plain removal as it is.
  @Test func oneCandidateIsTheSimilarityChoice() throws {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    let sequences = try replacement.sequences()
    for kind in [ReplacementKind.none, .layer] {
      var similarity = replacement.request(kind)
      similarity.removal = .layers(2)
      similarity.training.epochs = 1
      var measured = request(kind, candidates: 1)
      measured.training.epochs = 1
      let by = { (request: CompressionRequest) in
        try Compression.plan(
          model: model, sequences: sequences, request: request,
          progress: { Progress($0, style: .off) })
      }
      let chosen = try by(measured)
      let candidates = try #require(chosen.analysis?.measured)
      #expect(candidates.first?.start == (try by(similarity)).start)
      #expect(candidates.allSatisfy { $0.compensation == (kind == .none ? "none" : "linear") })
      // Reverse order (the block ending before the final layer) is measured too, and the
      // lowest KL is kept.
      #expect(candidates.contains { $0.end == model.config.numLayers - 1 })
      #expect(candidates.count <= 2)
      #expect(chosen.start == candidates.min { $0.kl < $1.kl }!.start)
    }
  }

  /// Gemma's MLP output cannot take the map: a replacement layer's candidates are measured with
  /// the map acting on the residual stream after the block's first layer, and the chosen one is
  /// the lowest KL.
  @Test func withoutFoldingTheMapActsOnTheResidualStream() throws {
    let model = try DecoderModel(url: Fixtures.model("gemma3-text"))
    var measured = request(.layer, candidates: 3)
    measured.removal = .layers(1)
    measured.training.epochs = 1
    let plan = try Compression.plan(
      model: model, sequences: try replacement.sequences(), request: measured,
      progress: { Progress($0, style: .off) })
    let candidates = try #require(plan.analysis?.measured)
    #expect(candidates.count == 3 && candidates.allSatisfy { $0.compensation == "residual" })
    #expect(plan.start == candidates.min { $0.kl < $1.kl }!.start)
    #expect(AnalysisReport.table(plan.analysis!).contains("on the residual stream"))
  }

  /// The residual map is the least-squares map from the layer's output to the state after the
  /// block: on the sequences it was fitted on, the mapped layer is closer to that state than the
  /// layer alone (the identity map is one it could have chosen).
  @Test func theResidualMapIsTheLeastSquaresFit() throws {
    let model = try DecoderModel(url: Fixtures.model("gemma3-text"))
    let sequences = try replacement.sequences()
    let lengths = sequences.map(\.count)
    let (start, end) = (1, 3)
    let store = try StateStore(
      states: [start, start + 1, end], rows: lengths.reduce(0, +),
      width: model.config.hiddenSize,
      memoryLimit: 1 << 30)
    try StateCapture.run(model: model, sequences: sequences, into: store, memoryBudget: 1 << 20)
    let fitting = Array(sequences.indices)
    let mapped = try LinearMap.residual(
      after: start, end: end, model: model, inputs: store, targets: store, lengths: lengths,
      fitting: fitting)
    let alone = try model.config.loadLayer(start, from: model.folder!, precision: .f32)
    let c = model.config.hiddenSize
    var errors = (mapped: 0.0, alone: 0.0)
    var offset = 0
    for length in lengths {
      let target = store.pointer(state: end) + offset * c
      for (layer, isMapped) in [(mapped, true), (alone, false)] {
        let x = Tensor(uninitialized: [length, c])
        x.pointer.update(from: store.pointer(state: start) + offset * c, count: x.count)
        layer.forward(
          x.pointer, batch: Batch(lengths: [length]), context: LayerContext(span: length))
        let error = (0..<x.count).reduce(0.0) { $0 + pow(Double(x.data[$1] - target[$1]), 2) }
        if isMapped { errors.mapped += error } else { errors.alone += error }
      }
      offset += length
    }
    #expect(errors.mapped < 0.9 * errors.alone, "\(errors)")
  }

  @Test func measuredSelectionNeedsScoredContiguousBlocks() throws {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    var given = request(.linear, candidates: 2)
    given.layers = [2, 3]
    var bi = request(.none, candidates: 2)
    bi.metric = .bi
    for refused in [given, bi] {
      #expect(throws: CompressionError.measuredSelectionNeedsScoring) {
        _ = try Compression.plan(
          model: model, sequences: try replacement.sequences(), request: refused,
          progress: { Progress($0, style: .off) })
      }
    }
  }
}
