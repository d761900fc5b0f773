import Foundation
import Models
import Tensors
import Testing

@testable import Streamline

/// `prune`'s record of a run: streamline.json's manifest, the `--json` summary and the text.
@Suite struct PruneRecordTests {
  static let calibration = Fixtures.root.appendingPathComponent("replacement/calibration.jsonl")

  func model() throws -> DecoderModel { try DecoderModel(url: Fixtures.model("llama-gqa")) }

  func draw(_ counts: CalibrationCounts, seed: UInt64 = 0) throws -> CalibrationDraw {
    var options = CalibrationOptions(path: Self.calibration.path)
    options.seqLen = 24
    options.seed = seed
    return try CalibrationStream.draw(
      options, counts: counts, tokenizer: nil, vocabularySize: 128)
  }

  func plan(_ model: DecoderModel, _ request: CompressionRequest, _ data: CalibrationDraw)
    throws -> CompressionPlan
  {
    try Compression.plan(
      model: model, scoring: data.scoring, training: data.training, request: request,
      progress: { Progress($0, style: .off) })
  }

  /// The JSON `Format.json` writes for `value`, as Foundation objects.
  func object<T: Encodable>(_ value: T) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(Format.json(value).utf8)) as! [String: Any]
  }

  @Test func calibrationRecordNamesTheDrawAndOnlyWhatWasGiven() throws {
    let counts = CalibrationCounts(scoring: 8, evaluation: 2, training: 6)
    let data = try draw(counts, seed: 7)
    let plain = try object(
      PruneRecord.Calibration(data, counts: counts, seqLen: 24, seed: 7))
    #expect(
      Set(plain.keys) == [
        "description", "sha256", "scoring_samples", "training_samples", "eval_samples",
        "seq_len", "seed", "draw", "pool_sequences",
      ])
    #expect(plain["description"] as? String == data.description)
    #expect(plain["sha256"] as? String == data.sha256)
    #expect(plain["scoring_samples"] as? Int == 8)
    #expect(plain["training_samples"] as? Int == 6)
    #expect(plain["eval_samples"] as? Int == 2)
    #expect(plain["seq_len"] as? Int == 24)
    #expect(plain["seed"] as? Int == 7)
    #expect(plain["draw"] as? String == CalibrationStream.drawName)
    #expect(plain["pool_sequences"] as? Int == data.poolSequences)

    let given = try object(
      PruneRecord.Calibration(
        data, counts: counts, seqLen: 24, seed: .max, trainTokens: 144,
        statsFiles: ["a.stats", "b.stats"]))
    #expect(given["train_tokens"] as? Int == 144)
    #expect(given["scored_elsewhere"] as? Bool == true)
    #expect(given["stats_files"] as? [String] == ["a.stats", "b.stats"])
    #expect((given["seed"] as? NSNumber)?.uint64Value == .max)
  }

  @Test func manifestOfAScoredRemovalHoldsTheScoresAndTheDraw() throws {
    let model = try model()
    let counts = CalibrationCounts(scoring: 8)
    let data = try draw(counts)
    var request = CompressionRequest()
    request.removal = .layers(2)
    request.replacement = .none
    request.scoringSamples = 8
    let plan = try plan(model, request, data)
    let analysis = try #require(plan.analysis)
    let record = PruneRecord(
      plan: plan, config: model.config, output: "out", replacement: .none,
      calibration: PruneRecord.Calibration(data, counts: counts, seqLen: 24, seed: 0),
      compute: ComputeRecord(precision: .f32))
    let manifest = try record.manifest()
    #expect(
      Set(manifest.keys) == [
        "replacement", "blocks_requested", "calibration", "metric", "scores", "layer_bi", "block",
        "compute",
      ])
    #expect(manifest["replacement"] as? String == "none")
    // The precision the products ran in and the instruction set oneDNN used.
    #expect(manifest["compute"] as? [String: String] == ["precision": "f32", "cpu_isa": CPU.isa])
    #expect(manifest["blocks_requested"] as? Int == 1)
    #expect(manifest["metric"] as? String == "cosine")
    #expect(manifest["layer_bi"] as? [Double] == analysis.layerBI)
    let block = try #require(manifest["block"] as? [String: Int])
    #expect(block == ["start": plan.start, "end": plan.end])
    let scores = try #require(manifest["scores"] as? [[String: Any]])
    #expect(scores.count == analysis.blocks.count)
    for (score, expected) in zip(scores, analysis.blocks) {
      #expect(Set(score.keys) == ["start", "end", "cosine", "angular"])
      #expect(score["start"] as? Int == expected.start && score["end"] as? Int == expected.end)
      #expect(score["cosine"] as? Double == expected.cosine)
      #expect(score["angular"] as? Double == expected.angular)
    }
    let calibration = try #require(manifest["calibration"] as? [String: Any])
    #expect(calibration["sha256"] as? String == data.sha256)
    #expect(calibration["scoring_samples"] as? Int == 8)

    // What the manifest becomes in streamline.json.
    let output = Fixtures.temporary("prune-record")
    defer { try? FileManager.default.removeItem(at: output) }
    _ = try Surgery.write(
      source: model.folder!, config: model.config, removing: plan.removed, manifest: manifest,
      to: output)
    let written =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: output.appendingPathComponent("streamline.json")))
      as! [String: Any]
    #expect(written["removed_layers"] as? [Int] == plan.removed)
    #expect((written["scores"] as? [[String: Any]])?.count == analysis.blocks.count)
    #expect(written["metric"] as? String == "cosine")
  }

  /// Scores and fits stay native numbers: a whole float is written as a float.
  @Test func manifestNumbersKeepTheirType() throws {
    let model = try model()
    let plan = CompressionPlan(
      analysis: nil, start: 1, end: 3, removed: [1, 2], overrides: [:], training: nil,
      linearFit: ["validation_mse": 1, "plain_removal_validation_mse": 0.25],
      blocks: [RemovedBlock(layers: [1, 2], cosine: 1, angular: 0)])
    let record = PruneRecord(
      plan: plan, config: model.config, output: "out", replacement: .linear, layers: "1-2",
      compute: ComputeRecord(precision: .f32))
    let text = String(decoding: try Surgery.json(record.manifest()), as: UTF8.self)
    #expect(text.contains("\"validation_mse\" : 1.0"))
    #expect(text.contains("\"cosine\" : 1.0") && text.contains("\"angular\" : 0.0"))
  }

  @Test func givenLayersAreTheSelection() throws {
    let model = try model()
    var request = CompressionRequest()
    request.layers = [1, 2]
    request.replacement = .none
    let plan = try Compression.plan(
      model: model, scoring: [], training: [], request: request,
      progress: { Progress($0, style: .off) })
    var record = PruneRecord(
      plan: plan, config: model.config, output: "/tmp/pruned", replacement: .none,
      layers: "1-2", compute: ComputeRecord(precision: .f32))
    let manifest = try record.manifest()
    #expect(
      Set(manifest.keys) == ["replacement", "blocks_requested", "selection", "block", "compute"])
    #expect(manifest["selection"] as? String == "--layers 1-2")
    #expect(manifest["block"] as? [String: Int] == ["start": 1, "end": 3])

    let config = model.config
    record.files = ["model.safetensors"]
    let summary = try object(record.summary)
    #expect(
      Set(summary.keys) == [
        "output", "removed_layers", "num_layers", "parameters", "parameters_before", "files",
        "compute",
      ])
    #expect(summary["output"] as? String == "/tmp/pruned")
    #expect(summary["removed_layers"] as? [Int] == [1, 2])
    #expect(summary["num_layers"] as? Int == config.numLayers - 2)
    #expect(
      summary["parameters"] as? Int == config.totalParameters - 2 * config.parametersPerLayer)
    #expect(summary["parameters_before"] as? Int == config.totalParameters)
    #expect(summary["files"] as? [String] == ["model.safetensors"])
    #expect(
      record.text
        == "wrote /tmp/pruned: 2 layers fewer (\(config.numLayers - 2) of \(config.numLayers)), "
        + "\(Format.count(record.parametersAfter)) of \(Format.count(config.totalParameters)) "
        + "parameters; removed layers 1–2")

    record.evaluation = HeldOutEvaluation(
      sequences: 2, tokens: 46, original: 10, pruned: 12, plainRemoval: nil, recovered: nil)
    #expect(record.text.hasSuffix("\n" + record.evaluation!.text))
    #expect((try object(record.summary))["evaluation"] as? [String: Any] != nil)
  }

  @Test func blocksAreListedInTheManifestAndTheText() throws {
    let model = try model()
    var request = CompressionRequest()
    request.removal = .layers(2)
    request.replacement = .none
    request.blocks = 2
    request.scoringSamples = 8
    let plan = try plan(model, request, try draw(CalibrationCounts(scoring: 8)))
    let blocks = try #require(plan.blocks)
    let record = PruneRecord(
      plan: plan, config: model.config, output: "out", replacement: .none, blocksRequested: 2,
      compute: ComputeRecord(precision: .f32))
    let manifest = try record.manifest()
    #expect(manifest["blocks_requested"] as? Int == 2)
    let listed = try #require(manifest["blocks"] as? [[String: Any]])
    #expect(listed.map { $0["layers"] as? [Int] } == blocks.map(\.layers))
    #expect(listed.map { $0["cosine"] as? Double } == blocks.map(\.cosine))
    #expect(
      record.text.hasSuffix(
        " in 2 blocks: "
          + blocks.map { AnalysisReport.describe($0.layers) }.joined(separator: ", ")))
    #expect((try object(record.summary))["blocks"] as? [[String: Any]] != nil)
  }

  @Test func trainedReplacementRecordsTrainingAndCapture() throws {
    let model = try model()
    let counts = CalibrationCounts(scoring: 8, training: 10)
    let data = try draw(counts)
    var request = CompressionRequest()
    request.removal = .layers(1)
    request.replacement = .layer
    request.scoringSamples = 8
    request.training.loss = .mse
    request.training.initialization = .first
    let plan = try plan(model, request, data)
    let training = try #require(plan.training)
    let capture = try #require(plan.capture)
    var record = PruneRecord(
      plan: plan, config: model.config, output: "out", replacement: .layer,
      calibration: PruneRecord.Calibration(data, counts: counts, seqLen: 24, seed: 0),
      compute: ComputeRecord(precision: .f32))
    let manifest = try record.manifest()
    #expect(
      Set(manifest.keys) == [
        "replacement", "blocks_requested", "calibration", "metric", "scores", "layer_bi", "block",
        "training", "capture", "compute",
      ])
    #expect(manifest["replacement"] as? String == "layer")
    // The reports are recorded as their own JSON.
    func canonical(_ value: Any?) throws -> String {
      String(
        decoding: try JSONSerialization.data(withJSONObject: value ?? [:], options: .sortedKeys),
        as: UTF8.self)
    }
    #expect(try canonical(manifest["training"]) == canonical(object(training)))
    #expect(try canonical(manifest["capture"]) == canonical(object(capture)))
    #expect(try canonical(manifest["capture"]).contains("\"spilled\":false"))

    record.files = ["model.safetensors"]
    let summary = try object(record.summary)
    #expect(summary["replaced_layer"] as? Int == plan.start)
    #expect(summary["removed_layers"] as? [Int] == plan.removed)
    #expect(summary["training"] != nil && summary["capture"] != nil)
    #expect(summary["linear_fit"] == nil && summary["evaluation"] == nil)

    let lines = record.text.split(separator: "\n").map(String.init)
    #expect(
      lines.first?.hasSuffix(
        "; layers \(plan.start)–\(plan.end - 1) replaced by one trained decoder layer") == true)
    #expect(
      lines.dropFirst().first
        == String(
          format: "validation mse: %.6f at the start, %.6f best (step %d of %d)",
          training.initialValidation, training.bestValidation, training.bestStep, training.steps))
    #expect(lines.contains { $0.hasPrefix("initialisation first") })
    #expect(
      lines.last?.hasPrefix(
        "training states: \(capture.states.count) states × \(capture.tokens) tokens") == true)
  }
}
