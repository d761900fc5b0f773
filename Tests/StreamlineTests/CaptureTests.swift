import Checkpoint
import Foundation
import Models
import Tensors
import Testing

@testable import Streamline

/// Issue 11: capture that scales, the streamed draw, exact shardable sums, held-out
/// perplexity and several blocks.
@Suite struct CaptureTests {
  static let calibration = Fixtures.root.appendingPathComponent("replacement/calibration.jsonl")

  func options(seed: UInt64 = 0) -> CalibrationOptions {
    var options = CalibrationOptions(path: Self.calibration.path)
    options.seqLen = 24
    options.seed = seed
    return options
  }

  func draw(_ counts: CalibrationCounts, seed: UInt64 = 0) throws -> CalibrationDraw {
    try CalibrationStream.draw(
      options(seed: seed), counts: counts, tokenizer: nil, vocabularySize: 128)
  }

  func model() throws -> DecoderModel { try DecoderModel(url: Fixtures.model("llama-gqa")) }

  @Test func streamedDrawIsReproducibleDisjointAndStable() throws {
    let a = try draw(CalibrationCounts(scoring: 8, evaluation: 4, training: 16))
    let b = try draw(CalibrationCounts(scoring: 8, evaluation: 4, training: 16))
    #expect(a.scoring == b.scoring && a.training == b.training && a.evaluation == b.evaluation)
    #expect(a.sha256 == b.sha256)
    #expect(a.scoring.count == 8 && a.evaluation.count == 4 && a.training.count == 16)
    #expect(a.scoring.allSatisfy { $0.count == 24 })
    // The scored set does not move when the training budget changes; the sets never overlap
    // (sequence positions: compare by content within one draw, all distinct in this fixture).
    let more = try draw(CalibrationCounts(scoring: 8, evaluation: 4, training: 26))
    #expect(more.scoring == a.scoring && more.evaluation == a.evaluation)
    #expect(Set(a.scoring).isDisjoint(with: Set(a.training)))
    #expect(Set(a.evaluation).isDisjoint(with: Set(a.training)))
    #expect(Set(a.scoring).isDisjoint(with: Set(a.evaluation)))
    let other = try draw(CalibrationCounts(scoring: 8, evaluation: 4, training: 20), seed: 1)
    #expect(other.scoring != a.scoring)
    #expect(other.sha256 != a.sha256)
    #expect(
      Fixtures.message {
        _ = try draw(CalibrationCounts(scoring: 8, training: a.poolSequences))
      }?.contains("are asked for") == true)
  }

  @Test func sumsAreExactUnderAnySplit() throws {
    let model = try model()
    let sequences = try draw(CalibrationCounts(scoring: 12)).scoring
    let whole = try Similarity.measureSums(model: model, sequences: sequences)
    let tiny = try Similarity.measureSums(model: model, sequences: sequences, memoryBudget: 1)
    #expect(whole == tiny)
    for shards in [2, 3, 5] {
      let parts = try (0..<shards).map { i in
        try Similarity.measureSums(
          model: model,
          sequences: Array(
            sequences[ScoringStats.range(shard: i, of: shards, samples: sequences.count)]))
      }
      // Any order of shards gives the same bits.
      #expect(try SimilaritySums.merged(parts) == whole)
      #expect(try SimilaritySums.merged(parts.reversed()) == whole)
      #expect(try SimilaritySums.merged(parts).matrix == whole.matrix)
    }
  }

  @Test func mergingRefusesMismatchedShards() throws {
    let sums = SimilaritySums(numLayers: 4)
    func stats(_ shard: Int, of shards: Int, calibration: String = "c", config: String = "m")
      -> (path: String, stats: ScoringStats)
    {
      (
        "s\(shard).json",
        ScoringStats(
          configSHA256: config, calibrationSHA256: calibration, seed: 0, seqLen: 24,
          samples: 8, shard: shard, shards: shards, sums: sums)
      )
    }
    #expect(
      Fixtures.message {
        _ = try ScoringStats.merge([stats(0, of: 2), stats(1, of: 2, calibration: "x")])
      }?
      .contains("calibration") == true)
    #expect(
      Fixtures.message {
        _ = try ScoringStats.merge([stats(0, of: 2), stats(1, of: 2, config: "x")])
      }?
      .contains("config.json") == true)
    #expect(
      Fixtures.message { _ = try ScoringStats.merge([stats(0, of: 3), stats(1, of: 3)]) }?
        .contains("missing") == true)
    #expect(
      Fixtures.message { _ = try ScoringStats.merge([stats(0, of: 2), stats(0, of: 2)]) }?
        .contains("also in") == true)
    #expect(
      Fixtures.message { _ = try ScoringStats.merge([stats(0, of: 1)], configSHA256: "other") }?
        .contains("differs") == true)
    #expect(throws: (any Error).self) { _ = try ScoringStats.parseShard("3/3") }
    #expect(try ScoringStats.parseShard("2/3") == (2, 3))
    let file = Fixtures.temporary("stats.json")
    defer { try? FileManager.default.removeItem(at: file) }
    // Loading checks every field, so the file saved is a consistent one.
    let valid = StrictStatsTests.stats()
    try valid.save(to: file)
    #expect(try ScoringStats.load(file.path) == valid)
  }

  @Test(arguments: [TrainingLoss.mse, .lm, .kd], [ReplacementInit.first, .auto])
  func captureKeepsOnlyTheBlockStates(loss: TrainingLoss, initialization: ReplacementInit) throws {
    let model = try model()
    let data = try draw(CalibrationCounts(scoring: 8, training: 10))
    var request = CompressionRequest()
    request.removal = .layers(1)
    request.replacement = .layer
    request.training.loss = loss
    request.training.initialization = initialization
    request.stopAfterCapture = true
    request.memoryBudget = 1  // one sequence per capture pass
    let plan = try Compression.plan(
      model: model, scoring: data.scoring, training: data.training, request: request,
      progress: { Progress($0, style: .off) })
    let capture = try #require(plan.capture)
    // MSE: block input and output; lm/kd: the input, the output only to fit the linear map
    // (auto), and for kd the original's final state (the teacher).
    let expected =
      loss == .mse || initialization == .auto ? [plan.start, plan.end] : [plan.start]
    let teacher = loss == .kd ? [model.config.numLayers] : []
    #expect(capture.states == Array(Set(expected + teacher)).sorted())
    #expect(capture.layersRun == capture.states.max()!)
    #expect(capture.tokens == data.training.count * 24)
    #expect(capture.bytes == capture.states.count * capture.tokens * model.config.hiddenSize * 4)

    // The captured states are exactly the full forward's.
    let store = try StateStore(
      states: capture.states, rows: capture.tokens, width: model.config.hiddenSize,
      memoryLimit: 0)
    try StateCapture.run(model: model, sequences: data.training, into: store, memoryBudget: 1)
    let c = model.config.hiddenSize
    try model.forward(
      data.training,
      hiddenState: { state, x, batch in
        guard store.contains(state) else { return }
        for i in 0..<(batch.rows * c) where store.pointer(state: state)[i] != x.data[i] {
          Issue.record("state \(state) differs at \(i)")
          return
        }
      })
  }

  @Test func releasedSpilledPagesKeepTheirValues() throws {
    let store = try StateStore(states: [0, 3], rows: 4096, width: 8, memoryLimit: 0)
    #expect(store.isSpilled)
    for state in [0, 3] {
      for i in 0..<(4096 * 8) { store.pointer(state: state)[i] = Float(i + state) }
    }
    store.release(rows: 0..<4096)
    for state in [0, 3] {
      #expect((0..<(4096 * 8)).allSatisfy { store.pointer(state: state)[$0] == Float($0 + state) })
    }
  }

  @Test func heldOutPerplexityOfPlainRemovalIsTheWrittenModels() throws {
    let model = try model()
    let held = try draw(CalibrationCounts(scoring: 0, evaluation: 6)).evaluation
    let output = Fixtures.temporary("heldout")
    defer { try? FileManager.default.removeItem(at: output) }
    // As prune does: the evaluation reads the model from the temporary folder and goes into
    // its manifest before the commit.
    let folder = try OutputFolder(target: output)
    _ = try Surgery.write(
      source: model.folder!, config: model.config, removing: [1, 2], manifest: [:], into: folder)
    let pruned = try DecoderModel(url: folder.url)
    let result = try HeldOutEvaluation.measure(
      original: model, pruned: pruned, plainRemoval: [1, 2], sequences: held)
    #expect(result.plainRemoval == result.pruned)
    #expect(result.recovered == 0)
    #expect(result.tokens == 6 * 23)
    #expect(result.original != result.pruned)
    try result.record(in: folder)
    #expect(!FileManager.default.fileExists(atPath: output.path), "nothing before the commit")
    try folder.commit()
    let manifest =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: output.appendingPathComponent("streamline.json"))) as! [String: Any]
    let recorded = try #require(manifest["evaluation"] as? [String: Any])
    #expect(abs((recorded["pruned"] as? Double ?? 0) / result.pruned - 1) < 1e-12)
    #expect(
      abs(
        HeldOutEvaluation.recoveredShare(original: 10, plainRemoval: 40, pruned: 20)! - 0.5)
        < 1e-12)
  }

  @Test func severalBlocksAreChosenOnThePrunedView() throws {
    #expect(BlockSelection.blockSizes(7, into: 3) == [3, 2, 2])
    #expect(BlockSelection.blockSizes(4, into: 4) == [1, 1, 1, 1])
    let model = try model()
    let data = try draw(CalibrationCounts(scoring: 8))
    var request = CompressionRequest()
    request.removal = .layers(2)
    request.replacement = .none
    request.blocks = 2
    let plan = try Compression.plan(
      model: model, scoring: data.scoring, training: [], request: request,
      progress: { Progress($0, style: .off) })
    let blocks = try #require(plan.blocks)
    #expect(blocks.count == 2 && blocks.allSatisfy { $0.layers.count == 1 })
    #expect(Set(blocks[0].layers).isDisjoint(with: Set(blocks[1].layers)))
    #expect(plan.removed == blocks.flatMap(\.layers).sorted())
    // The first block is the single-block choice; the second is the best of the pruned view.
    let sums = try Similarity.measureSums(model: model, sequences: data.scoring)
    let single = try Importance.analyze(
      sums.matrix, config: model.config, metric: .cosine, removing: 1, replacement: .none)
    #expect(blocks[0].layers == single.chosen.layers)
    let view = (0..<model.config.numLayers).filter { !blocks[0].layers.contains($0) }
    let again = try Similarity.measureSums(
      model: model, sequences: data.scoring, layers: view
    ).matrix
    let best = Importance.choose(Importance.scores(again, width: 1), by: .cosine)
    #expect(blocks[1].layers == best.layers.map { view[$0] })
    var refused = request
    refused.layers = [1, 2]
    #expect(throws: CompressionError.blocksNeedScoredRemoval(blocks: 2)) {
      _ = try Compression.plan(
        model: model, scoring: data.scoring, training: data.scoring, request: refused,
        progress: { Progress($0, style: .off) })
    }
  }
}
