import Checkpoint
import Foundation
import Models
import Tensors
import Tokenizers

/// What a prune run is asked to do: the model, where its calibration data comes from, what to
/// remove and what replaces it, and where everything it writes goes.
public struct PruneRequest {
  /// The model folder (`DemoModel.name` for the shipped model).
  public var model: String
  /// The folder the pruned checkpoint is written into (must not exist or be empty, unless
  /// `force`).
  public var output: String
  public var precision = Precision.f32
  /// The calibration data (the demo model's own when its path is nil; required otherwise,
  /// unless `layers` names the block and nothing is trained) and how it is cut.
  public var calibration = CalibrationSource()
  /// How many layers go, the metric, the replacement and its training. `compression.layers`
  /// is set from `layers`; `compression.spillDirectory` is the output's temporary folder.
  public var compression = CompressionRequest()
  /// Exactly these layers (0-based, "10-13" or "3,5"), skipping scoring.
  public var layers: String?
  /// Training sequences (nil: `CalibrationCounts.defaultTraining`), or a budget in tokens.
  public var trainingSamples: Int?
  public var trainingTokens: Int?
  /// Healing sequences, with `compression.healing` (nil: `CalibrationCounts.defaultHealing`),
  /// or a budget in tokens.
  public var healingSamples: Int?
  public var healingTokens: Int?
  /// Held-out calibration sequences for the final perplexity; 0 skips it.
  public var evaluationSamples = CalibrationCounts.defaultEvaluation
  /// Saved scoring statistics (every shard) to use instead of scoring.
  public var statistics: [String] = []
  /// A folder for the analysis and the training report.
  public var report: String?
  /// Replace a non-empty output folder (a report folder only ever when it holds nothing but
  /// report files).
  public var force = false
  public var maxShardSize = 5_000_000_000
  /// Also write the pruned model as this GGUF file.
  public var gguf: String?
  public var ggufType = GGUFExport.FileType.f32
  /// What refusals call each path the run reads or writes (the command line names its flags).
  public var names = PathNames()

  public init(model: String, output: String) {
    self.model = model
    self.output = output
  }

  /// `removing` layers, by `metric`, replaced by `replacement` (trained with `training`).
  public init(
    model: String, output: String, removing layers: Int,
    replacement: ReplacementKind = .layer, calibration: String? = nil
  ) {
    self.init(model: model, output: output)
    self.calibration = CalibrationSource(path: calibration)
    compression.removal = .layers(layers)
    compression.replacement = replacement
  }

  /// What error messages call the run's paths.
  public struct PathNames: Sendable {
    public var model = "the input model folder"
    public var calibration = "the calibration data"
    public var statistics = "the statistics file"
    public var output = "the output folder"

    public init() {}
  }

  /// The model folder, the demo model's for `DemoModel.name`.
  public var modelPath: String { DemoModel.resolve(model) }
  public var isDemo: Bool { model == DemoModel.name }

  /// The calibration data: the one given, or the demo model's own.
  public var calibrationSource: String? { calibration.resolved(for: model) }

  /// The replacement's training sequences of `seqLen` tokens.
  public func trainingSequences(seqLen: Int) -> Int {
    trainingTokens.map { max(1, $0 / seqLen) } ?? trainingSamples
      ?? CalibrationCounts.defaultTraining
  }

  /// Healing's sequences of `seqLen` tokens; none without healing.
  public func healingSequences(seqLen: Int) -> Int {
    guard compression.healing != nil else { return 0 }
    return healingTokens.map { max(1, $0 / seqLen) } ?? healingSamples
      ?? CalibrationCounts.defaultHealing
  }

  /// Whether the run needs calibration data: to score the layers, to make the replacement or
  /// to heal.
  public var needsCalibration: Bool {
    compression.replacement.implementation.needsTrainingSequences || layers == nil
      || compression.healing != nil
  }

  /// What this run reads, which nothing it writes may touch.
  public var inputPolicy: OutputPolicy {
    var policy = OutputPolicy()
    policy.add(modelPath, as: names.model)
    policy.add(calibrationSource, as: names.calibration)
    for file in statistics { policy.add(file, as: names.statistics) }
    return policy
  }
}

/// What a prune run did: the record it wrote into the checkpoint's `streamline.json` (and
/// prints), or, when it stopped after capturing the training states, what the capture cost.
public struct PruneResult {
  public let record: PruneRecord?
  public let capture: CaptureReport?
}

/// A prune run as one call: load the model, draw the calibration sequences, choose the block,
/// make its replacement, write the checkpoint with its manifest and held-out perplexity (and
/// the report and GGUF file asked for), and commit everything together, or nothing.
///
///     let result = try PruneJob.run(
///       PruneRequest(model: "models/SmolLM2-135M", output: "pruned", removing: 6,
///         replacement: .linear, calibration: "data/calibration.jsonl"))
public struct PruneJob {
  public let request: PruneRequest

  public init(_ request: PruneRequest) { self.request = request }

  /// Runs `request`; `progress` makes the progress display of each stage.
  public static func run(
    _ request: PruneRequest,
    progress: @escaping (String, String) -> Progress = { Progress($0, unit: $1) }
  ) throws -> PruneResult {
    try PruneJob(request).run(progress: progress)
  }

  /// Checks what can be checked before any work: that calibration data is there when it is
  /// needed (the paths written are staged, and so checked, first thing in `run`).
  public func check() throws {
    guard !request.needsCalibration || request.calibrationSource != nil else {
      throw StreamlineError.calibrationRequired
    }
  }

  public func run(
    progress: @escaping (String, String) -> Progress = { Progress($0, unit: $1) }
  ) throws -> PruneResult {
    try check()
    // Every path this writes is checked, and the output's temporary folder made, before any
    // work: a refused path costs nothing, and training states spill into that folder (so a
    // parent that does not exist yet is no problem, and nothing is left outside it). Every
    // output is staged in one set and committed together at the end, or none is.
    let outputs = OutputSet(policy: request.inputPolicy)
    let out = try outputs.folder(
      request.output, label: OutputRole.output.rawValue, force: request.force)
    let reportDestination = try request.report.map {
      // `force` is for the checkpoint: a report folder is replaced only when it holds nothing
      // but report files, so a mistyped report path never takes a folder of the user's with it.
      try ReportDestination(
        $0, outputs: outputs, force: false,
        ownFiles: AnalysisReport.files.union(TrainingChart.files), within: out)
    }
    let ggufFile = try request.gguf.map {
      try outputs.file($0, label: OutputRole.gguf.rawValue, force: request.force)
    }

    let loaded = try DecoderModel(
      url: URL(fileURLWithPath: request.modelPath), precision: request.precision)
    let config = loaded.config
    guard let folder = loaded.folder else { preconditionFailure("a loaded model has a folder") }
    // What the copy and the export will meet, checked before any work: the side files, the
    // dtype of every tensor, and for a GGUF the tokenizer it embeds and finite weights.
    try Surgery.checkSource(folder, values: request.gguf != nil)
    if request.gguf != nil { try GGUFExport.check(source: folder.url, config: config) }
    let replacement = request.compression.replacement
    var compression = request.compression
    compression.spillDirectory = out.url
    if let layers = request.layers {
      compression.layers = try LayerSelection.parse(layers, layerCount: config.numLayers)
    }
    let seqLen = request.calibration.sequenceLength(config)
    var merged: ScoringStats?
    if !request.statistics.isEmpty {
      let result = try ScoringStats.merge(
        try request.statistics.map { (path: $0, stats: try ScoringStats.load($0)) },
        configSHA256: ScoringStats.configHash(folder.configData))
      merged = result.header
      compression.sums = result.sums
      guard result.header.seqLen == seqLen, result.header.seed == request.calibration.seed else {
        throw StreamlineError.statisticsOfOtherRun(
          seqLen: result.header.seqLen, seed: result.header.seed)
      }
    }

    var drawn: PruneRecord.Calibration?
    var data: CalibrationDraw?
    if let source = request.calibrationSource {
      let extra =
        replacement.implementation.needsTrainingSequences
        ? request.trainingSequences(seqLen: seqLen) : 0
      let scored = request.layers == nil ? merged?.samples ?? compression.scoringSamples : 0
      let counts = CalibrationCounts(
        scoring: scored, evaluation: request.evaluationSamples, training: extra,
        healing: request.healingSequences(seqLen: seqLen))
      // The peak this run will need, against every memory limit it runs under, before work.
      try MemoryLimits.current().check(
        MemoryEstimate.run(
          config: config, checkpointBytes: folder.files.reduce(0) { $0 + $1.file.size },
          seqLen: seqLen, scoring: scored, evaluation: request.evaluationSamples,
          training: extra, healing: counts.healing, heal: compression.healing,
          memoryBudget: compression.memoryBudget, trainingMemory: compression.trainingMemory),
        for: "this prune")
      if counts.total > 0 {
        let draw = try request.calibration.draw(
          model: request.model, loaded: loaded, counts: counts,
          progress: progress("reading calibration files", "tokens"))
        if let merged, merged.calibrationSHA256 != draw.sha256 {
          throw StreamlineError.statisticsOfOtherCalibration(source: source)
        }
        data = draw
        drawn = PruneRecord.Calibration(
          draw, counts: counts, seqLen: seqLen, seed: request.calibration.seed,
          trainTokens: request.trainingTokens,
          statsFiles: merged == nil ? nil : request.statistics)
      }
    }
    let plan: CompressionPlan
    do {
      // Training states spill into the output's temporary folder: an error names the output.
      plan = try OutputRole.output.naming {
        try out.naming {
          try Compression.plan(
            model: loaded, scoring: compression.sums == nil ? data?.scoring ?? [] : [],
            training: data?.training ?? [], healing: data?.healing ?? [], request: compression,
            progress: { progress($0, "tokens") })
        }
      }
    } catch CompressionError.tooFewTrainingSequences(let kind) where request.trainingTokens != nil {
      // A budget given in tokens is what to raise.
      throw CompressionError.tooFewTrainingTokens(
        kind, tokens: request.trainingTokens!, seqLen: seqLen)
    }
    if compression.stopAfterCapture {
      return PruneResult(record: nil, capture: plan.capture)
    }
    var record = PruneRecord(
      plan: plan, config: config, output: request.output, replacement: replacement,
      blocksRequested: compression.blocks, calibration: drawn, layers: request.layers,
      compute: ComputeRecord(precision: loaded.precision))
    // Everything that belongs to the result (checkpoint, manifest with its held-out evaluation,
    // report) is written before anything is committed, so a late failure leaves no
    // complete-looking output behind and an earlier output in place.
    let manifest = try record.manifest()
    let saved = try OutputRole.output.naming {
      try out.naming {
        try Surgery.write(
          source: folder, config: config, removing: plan.removed, overrides: plan.overrides,
          manifest: manifest, into: out, maxShardSize: request.maxShardSize,
          progress: progress("writing", "MB"))
      }
    }
    record.files = saved.files
    if let held = data?.evaluation, !held.isEmpty {
      let evaluation = try OutputRole.output.naming {
        try out.naming {
          try HeldOutEvaluation.measure(
            original: loaded,
            pruned: try DecoderModel(url: out.url, precision: request.precision),
            plainRemoval: replacement.implementation.compensates || plan.healing != nil
              ? plan.plainRemovalBaseline : nil,
            sequences: held, progress: progress("held-out perplexity", "models"))
        }
      }
      try OutputRole.output.naming { try out.naming { try evaluation.record(in: out) } }
      record.evaluation = evaluation
    }
    // The GGUF is made from the finished folder, named after the output the user gave.
    if let ggufFile {
      try OutputRole.gguf.naming {
        try out.naming {
          try GGUFExport(
            folder: out.url, fileType: request.ggufType, name: out.target.lastPathComponent
          ).write(into: ggufFile, progress: progress("writing GGUF", "MB"))
        }
      }
    }
    if let reportDestination {
      try reportDestination.writing {
        if let analysis = plan.analysis {
          try AnalysisReport.write(analysis, model: request.model, to: reportDestination.folder)
        }
        if let training = plan.training {
          try TrainingChart.write(training, to: reportDestination.folder)
        }
      }
    }
    try outputs.commit()
    return PruneResult(record: record, capture: plan.capture)
  }

  /// The model folder's tokenizer, with special-token text in calibration data read as plain
  /// text (calibration data is untrusted); nil when the folder has none.
  public static func calibrationTokenizer(_ modelPath: String) throws -> Tokenizer? {
    let folder = URL(fileURLWithPath: modelPath)
    guard
      FileManager.default.fileExists(atPath: folder.appendingPathComponent("tokenizer.json").path)
    else { return nil }
    let tokenizer = try Tokenizer.load(from: folder)
    tokenizer.specialTokenTextIsPlain = true
    return tokenizer
  }
}
