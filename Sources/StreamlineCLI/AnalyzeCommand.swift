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
      let (_, count) = try ErrorWording.wording { try ScoringStats.parseShard(shard) }
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

  /// Library errors are worded with this command's flags here, where the command runs.
  func run() throws {
    try ErrorWording.wording { try execute() }
  }

  func execute() throws {
    if let n = curve.curve, let heldout = curve.heldout {
      return try runCurve(n, heldout: heldout)
    }
    let result = try AnalysisJob(try request()).run()
    let stats = result.statistics
    guard let analysis = result.analysis else {
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
    emit(output.json ? try Format.json(analysis) : AnalysisReport.table(analysis))
    if let report, !output.json {
      emit("report: \(report)/summary.md, similarity.svg, blocks.svg, analysis.json")
    }
  }

  /// The request the flags make.
  func request() throws -> AnalysisRequest {
    var request = AnalysisRequest(model: model.model)
    request.precision = model.precision.announced
    request.calibration = calibration.calibrationSource
    request.samples = calibration.samples
    request.memoryBudget = try calibration.memoryBudgetBytes()
    request.removal = removal.request
    request.metric = removal.metric
    request.replacement = removal.replace
    request.report = report
    request.shard = shard
    request.saveStatistics = saveStats
    request.merge = merge
    request.mergeName = "the --merge file"
    request.statisticsName = "the --save-stats file"
    return request
  }
}
