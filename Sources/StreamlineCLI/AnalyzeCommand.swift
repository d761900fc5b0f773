import ArgumentParser
import Checkpoint
import Foundation
import Models
import Streamline

struct Analyze: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Score every block of consecutive layers on calibration data and choose one.",
    discussion: """
      --curve N --heldout FILE: how far to go. For every n from 1 to N, the held-out perplexity \
      and KL to the original of the models `prune --remove n` writes with --replace none and \
      --replace linear (give prune's --samples, --seq-len, --seed, --train-samples, \
      --eval-samples and --val-fraction when they differ from the defaults), measured in memory \
      on the windows `eval --perplexity FILE --seq-len L --stride L` scores.
      """)

  @OptionGroup var model: ModelOptions
  @OptionGroup var calibration: CalibrationArguments
  @OptionGroup var removal: RemovalArguments

  @Option(help: "Write analysis.json, summary.md and SVG charts into this folder.")
  var report: String?

  @OptionGroup var curve: CurveArguments

  @OptionGroup var output: OutputOptions

  @Option(
    help:
      "Score only shard I of N (0-based, e.g. 0/4) of the scored sequences; needs --save-stats.")
  var shard: String?

  @Option(
    name: .customLong("save-stats"),
    help: "Write the scoring statistics (exact sums) to this JSON file, for --merge or --stats.")
  var saveStats: String?

  @Option(
    parsing: .upToNextOption,
    help: "Merge these shards' --save-stats files (no scoring) into the single-machine result.")
  var merge: [String] = []

  func validate() throws {
    if curve.curve != nil {
      if removal.request != nil {
        throw ValidationError(
          "--curve N measures every count of layers from 1 to N: give it without --remove or --sparsity"
        )
      }
      if shard != nil || !merge.isEmpty || saveStats != nil {
        throw ValidationError(
          "--curve scores the calibration itself: give it without --shard, --merge or --save-stats"
        )
      }
      if removal.metric == .bi {
        throw ValidationError(
          "--curve compares plain removal with the linear map, which replaces one contiguous block: use --metric cosine or angular, not bi"
        )
      }
    }
    if shard != nil && saveStats == nil {
      throw ValidationError("--shard needs --save-stats FILE to write the shard's statistics to")
    }
    if !merge.isEmpty && shard != nil {
      throw ValidationError("give --shard (score one shard) or --merge (combine shards), not both")
    }
    if let shard {
      // More shards than sequences leaves some empty, and I·samples must not overflow.
      let (_, count) = try ScoringStats.parseShard(shard)
      guard count <= calibration.samples else {
        throw ValidationError(
          "--shard \(shard): \(count) shards of \(calibration.samples) sequences leave some empty; use at most \(calibration.samples)"
        )
      }
    }
    if shard == nil && removal.request == nil && curve.curve == nil {
      throw ValidationError("say how much to remove: --remove N, --sparsity S or --curve N")
    }
  }

  func run() throws {
    if let n = curve.curve, let heldout = curve.heldout {
      return try runCurve(n, heldout: heldout)
    }
    // The paths this writes, checked before any work.
    var policy = OutputPolicy()
    policy.add(model.path, as: "the input model folder")
    policy.add(calibration.source(model), as: "the calibration data")
    for file in merge { policy.add(file, as: "the --merge file") }
    // Both outputs are staged now and committed together at the end. The report folder is
    // replaced whole, so it must not hold the statistics file.
    let outputs = OutputSet(policy: policy)
    let statsFile = try saveStats.map { try outputs.file($0, label: "--save-stats") }
    let reportDestination = try report.map {
      try ReportDestination(
        $0, flag: "--report", outputs: outputs, force: false, ownFiles: AnalysisReport.files)
    }

    let loaded = try model.load()
    guard let folder = loaded.folder else { return }
    let configHash = ScoringStats.configHash(folder.configData)
    let stats: ScoringStats
    if !merge.isEmpty {
      stats = try Self.mergeStats(merge, configSHA256: configHash).header
    } else {
      let (index, count) = try shard.map(ScoringStats.parseShard) ?? (0, 1)
      try MemoryLimits.current().check(
        MemoryEstimate.run(
          config: loaded.config, checkpointBytes: folder.files.reduce(0) { $0 + $1.file.size },
          seqLen: calibration.sequenceLength(loaded), scoring: calibration.samples, evaluation: 0,
          training: 0, memoryBudget: try calibration.memoryBudgetBytes(), trainingMemory: 0),
        for: "this analysis")
      let data = try calibration.draw(
        for: loaded, options: model, counts: CalibrationCounts(scoring: calibration.samples))
      let range = ScoringStats.range(shard: index, of: count, samples: calibration.samples)
      guard !range.isEmpty else {
        throw ValidationError(
          "--shard \(shard!): \(calibration.samples) sequences leave this shard empty; use fewer shards"
        )
      }
      let sums = try Similarity.measureSums(
        model: loaded, sequences: Array(data.scoring[range]),
        memoryBudget: try calibration.memoryBudgetBytes(),
        progress: Progress("scoring layers", unit: "tokens"))
      stats = ScoringStats(
        configSHA256: configHash, calibrationSHA256: data.sha256, seed: calibration.seed,
        seqLen: calibration.sequenceLength(loaded), samples: calibration.samples, shard: index,
        shards: count, sums: sums)
    }
    // The outputs are written last, into their temporary places, then committed together, so
    // that a failure leaves neither behind.
    func save() throws {
      if let statsFile {
        try forOption("--save-stats") { try statsFile.write(try stats.encoded()) }
      }
      try outputs.commit()
    }
    guard let request = removal.request else {
      try save()
      emit(
        "scored shard \(stats.shard)/\(stats.shards): \(stats.sums.samples) sequences, \(stats.sums.tokens) tokens; statistics in \(saveStats!)"
      )
      return
    }
    if stats.shards > 1 {
      emit(
        "shard \(stats.shard)/\(stats.shards) alone (\(stats.sums.samples) of \(stats.samples) sequences); merge every shard's --save-stats with --merge for the full result"
      )
    }
    let count = try Importance.layerCount(
      request, config: loaded.config, replacement: removal.replace)
    let analysis = try Importance.analyze(
      stats.sums.matrix, config: loaded.config, metric: removal.metric, removing: count,
      replacement: removal.replace)
    if let reportDestination {
      try reportDestination.writing("--report") {
        try AnalysisReport.write(analysis, model: model.model, to: reportDestination.folder)
      }
    }
    try save()
    emit(output.json ? try Format.json(analysis) : AnalysisReport.table(analysis))
    if let report, !output.json {
      emit("report: \(report)/summary.md, similarity.svg, blocks.svg, analysis.json")
    }
  }

  /// Reads and merges statistics files.
  static func mergeStats(_ paths: [String], configSHA256: String) throws -> (
    header: ScoringStats, sums: SimilaritySums
  ) {
    try ScoringStats.merge(
      try paths.map { (path: $0, stats: try ScoringStats.load($0)) }, configSHA256: configSHA256)
  }
}
