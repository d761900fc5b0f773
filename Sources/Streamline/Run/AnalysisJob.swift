import Checkpoint
import Evaluation
import Foundation
import Models
import Tensors

/// What an analysis is asked to do: score every block of the model on calibration data (or
/// merge shards scored elsewhere) and choose the block a removal would take, or measure the
/// removal curve on held-out text.
public struct AnalysisRequest {
  /// The model folder (`DemoModel.name` for the shipped model).
  public var model: String
  public var precision = Precision.f32
  public var calibration = CalibrationSource()
  /// Calibration sequences scored.
  public var samples = 64
  /// Bytes of hidden states kept at once while scoring.
  public var memoryBudget = 8 << 30
  /// How many layers go (nil: score and save the statistics only).
  public var removal: RemovalRequest?
  public var metric = ImportanceMetric.cosine
  public var replacement = ReplacementKind.layer
  /// A folder for analysis.json, summary.md and the charts.
  public var report: String?
  /// Score only shard I of N ("I/N", 0-based) of the scored sequences.
  public var shard: String?
  /// A file the scoring statistics (exact sums) are saved to.
  public var saveStatistics: String?
  /// Saved statistics of every shard, merged instead of scoring.
  public var merge: [String] = []
  /// What refusals call the merged statistics files and the saved one.
  public var mergeName = "the statistics file"
  public var statisticsName = "the statistics file"

  public init(model: String) { self.model = model }

  public var modelPath: String { DemoModel.resolve(model) }
}

/// What an analysis gave: the saved statistics, and the analysis of the removal asked for.
public struct AnalysisResult {
  public let statistics: ScoringStats
  public let analysis: Analysis?
}

/// The held-out curve of `analyze --curve`: for every count of layers from 1 to `upTo`, the
/// models `prune` writes with plain removal and with the linear map, measured in memory.
public struct CurveRequest {
  public var upTo: Int
  /// Held-out text, scored in windows as `eval --perplexity` scores it.
  public var heldOut: String
  /// Window length and stride on the held-out text (nil: the calibration sequence length).
  public var heldOutSeqLen: Int?
  /// Training sequences (default as `prune`), or a budget in tokens.
  public var trainingSamples: Int?
  public var trainingTokens: Int?
  /// `prune`'s held-out calibration sequences, left out here too so that the maps are fitted on
  /// `prune`'s training sequences.
  public var evaluationSamples: Int?
  public var training = TrainingOptions()
  /// Bytes of captured states kept in memory before spilling.
  public var trainingMemory = Int(CompressionRequest.defaultTrainingMemoryGiB * Double(1 << 30))
  /// What refusals call the held-out file.
  public var heldOutName = "the held-out text"

  public init(upTo: Int, heldOut: String) {
    self.upTo = upTo
    self.heldOut = heldOut
  }

  /// Training sequences of `seqLen` tokens, as `prune` counts them.
  public func sequences(seqLen: Int) -> Int {
    trainingTokens.map { max(1, $0 / seqLen) } ?? trainingSamples
      ?? CalibrationCounts.defaultTraining
  }
}

/// An analysis as one call: the block scores and choice (`run`), or the curve (`curve`). The
/// statistics file and the report are written last, together.
public struct AnalysisJob {
  public let request: AnalysisRequest

  public init(_ request: AnalysisRequest) { self.request = request }

  /// What this run reads, which nothing it writes may touch.
  var inputPolicy: OutputPolicy {
    var policy = OutputPolicy()
    policy.add(request.modelPath, as: "the input model folder")
    policy.add(request.calibration.resolved(for: request.model), as: "the calibration data")
    return policy
  }

  public func run(
    progress: @escaping (String, String) -> Progress = { Progress($0, unit: $1) }
  ) throws -> AnalysisResult {
    // The paths this writes, checked before any work.
    var policy = inputPolicy
    for file in request.merge { policy.add(file, as: request.mergeName) }
    // Both outputs are staged now and committed together at the end. The report folder is
    // replaced whole, so it must not hold the statistics file.
    let outputs = OutputSet(policy: policy)
    let statsFile = try request.saveStatistics.map {
      try outputs.file($0, label: OutputRole.statistics.rawValue)
    }
    let reportDestination = try request.report.map {
      try ReportDestination($0, outputs: outputs, force: false, ownFiles: AnalysisReport.files)
    }

    let loaded = try DecoderModel(
      url: URL(fileURLWithPath: request.modelPath), precision: request.precision)
    guard let folder = loaded.folder else { preconditionFailure("a loaded model has a folder") }
    if request.merge.isEmpty {
      // The peak this run will need, against every memory limit it runs under, before work.
      try MemoryLimits.current().check(
        MemoryEstimate.run(
          config: loaded.config, checkpointBytes: folder.files.reduce(0) { $0 + $1.file.size },
          seqLen: request.calibration.sequenceLength(loaded.config), scoring: request.samples,
          evaluation: 0, training: 0, memoryBudget: request.memoryBudget, trainingMemory: 0),
        for: "this analysis")
    }
    let configHash = ScoringStats.configHash(folder.configData)
    let stats: ScoringStats
    if !request.merge.isEmpty {
      stats = try ScoringStats.merge(
        try request.merge.map { (path: $0, stats: try ScoringStats.load($0)) },
        configSHA256: configHash
      ).header
    } else {
      let (index, count) = try request.shard.map(ScoringStats.parseShard) ?? (0, 1)
      let data = try request.calibration.draw(
        model: request.model, loaded: loaded, counts: CalibrationCounts(scoring: request.samples),
        progress: progress("reading calibration files", "tokens"))
      let range = ScoringStats.range(shard: index, of: count, samples: request.samples)
      guard !range.isEmpty else {
        throw StreamlineError.emptyShard(request.shard!, samples: request.samples)
      }
      let sums = try Similarity.measureSums(
        model: loaded, sequences: Array(data.scoring[range]), memoryBudget: request.memoryBudget,
        progress: progress("scoring layers", "tokens"))
      stats = ScoringStats(
        configSHA256: configHash, calibrationSHA256: data.sha256, seed: request.calibration.seed,
        seqLen: request.calibration.sequenceLength(loaded.config), samples: request.samples,
        shard: index, shards: count, sums: sums)
    }
    // The outputs are written last, into their temporary places, then committed together, so
    // that a failure leaves neither behind.
    func save() throws {
      if let statsFile {
        try OutputRole.statistics.naming { try statsFile.write(try stats.encoded()) }
      }
      try outputs.commit()
    }
    guard let removal = request.removal else {
      try save()
      return AnalysisResult(statistics: stats, analysis: nil)
    }
    let count = try Importance.layerCount(
      removal, config: loaded.config, replacement: request.replacement)
    let analysis = try Importance.analyze(
      stats.sums.matrix, config: loaded.config, metric: request.metric, removing: count,
      replacement: request.replacement)
    if let reportDestination {
      try reportDestination.writing {
        try AnalysisReport.write(analysis, model: request.model, to: reportDestination.folder)
      }
    }
    try save()
    return AnalysisResult(statistics: stats, analysis: analysis)
  }

  /// The curve: every count from 1 to `curve.upTo`, plain and linear, on the held-out windows
  /// `eval --perplexity` scores, each the model `prune --remove n` would write.
  public func curve(
    _ curve: CurveRequest,
    progress: @escaping (String, String) -> Progress = { Progress($0, unit: $1) }
  ) throws -> RemovalCurve {
    var policy = inputPolicy
    policy.add(curve.heldOut, as: curve.heldOutName)
    let outputs = OutputSet(policy: policy)
    let reportDestination = try request.report.map {
      try ReportDestination(
        $0, outputs: outputs, force: false,
        ownFiles: AnalysisReport.files.union(CurveReport.files))
    }
    let documents = try TextFile.read(path: curve.heldOut)
    let loaded = try DecoderModel(
      url: URL(fileURLWithPath: request.modelPath), precision: request.precision)
    try RemovalCurve.check(curve.upTo, layers: loaded.config.numLayers, metric: request.metric)
    let encoder = try RequestEncoder(modelFolder: URL(fileURLWithPath: request.modelPath))
    let seqLen = request.calibration.sequenceLength(loaded.config)
    let windowLength = curve.heldOutSeqLen ?? seqLen
    let windows = try TextScorer(model: loaded, encoder: encoder).windows(
      documents: documents, seqLen: windowLength, stride: windowLength)

    // The draw `prune --replace linear` makes: scored, held-out, then training sequences.
    let counts = CalibrationCounts(
      scoring: request.samples,
      evaluation: curve.evaluationSamples ?? CalibrationCounts.defaultEvaluation,
      training: curve.sequences(seqLen: seqLen))
    let data = try request.calibration.draw(
      model: request.model, loaded: loaded, counts: counts,
      progress: progress("reading calibration files", "tokens"))
    var compression = CompressionRequest()
    compression.metric = request.metric
    compression.replacement = .linear
    compression.training = curve.training
    compression.scoringSamples = request.samples
    compression.memoryBudget = request.memoryBudget
    compression.trainingMemory = curve.trainingMemory
    if let folder = reportDestination?.folder { compression.spillDirectory = folder }
    let sums = try Similarity.measureSums(
      model: loaded, sequences: data.scoring, memoryBudget: compression.memoryBudget,
      progress: progress("scoring layers", "tokens"))
    let result = try RemovalCurve.measure(
      model: loaded, similarity: sums.matrix, training: data.training, windows: windows,
      heldOut: CurveHeldOut(
        file: curve.heldOut, documents: documents.count, seqLen: windowLength, windows: windows),
      upTo: curve.upTo, request: compression, progress: { progress($0, "") })
    if let reportDestination {
      try reportDestination.writing {
        try CurveReport.write(result, model: request.model, to: reportDestination.folder)
      }
    }
    try outputs.commit()
    return result
  }
}
