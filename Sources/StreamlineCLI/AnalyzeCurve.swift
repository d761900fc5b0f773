import ArgumentParser
import Checkpoint
import Evaluation
import Foundation
import Models
import Streamline

/// `analyze --curve N`: how far to go. The options that make the curve's linear maps the ones
/// `prune --replace linear` fits carry prune's names and defaults.
struct CurveArguments: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Measure held-out perplexity and KL to the original for every count of layers removed from 1 to N, plain removal beside the training-free linear map (plain removal alone for layers that cannot take the map; needs --heldout).",
      valueName: "N"))
  var curve: Int?

  @Option(
    help: ArgumentHelp(
      "Held-out text for --curve: .txt (one document) or .jsonl (a \"text\" field per line), scored as eval --perplexity scores it.",
      valueName: "file"))
  var heldout: String?

  @Option(
    name: .customLong("heldout-seq-len"),
    help:
      "Window length and stride on --heldout, as eval's --seq-len and --stride (default: --seq-len)."
  )
  var heldoutSeqLen: Int?

  @Option(
    name: .customLong("train-samples"),
    help:
      "Calibration sequences the linear maps are fitted on (default \(CalibrationCounts.defaultTraining), as prune)."
  )
  var trainSamples: Int?

  @Option(
    name: .customLong("train-tokens"),
    help: "Fit on this many tokens' worth of sequences instead, as prune's --train-tokens.")
  var trainTokens: Int?

  @Option(
    name: .customLong("eval-samples"),
    help:
      "prune's held-out calibration sequences (default \(CalibrationCounts.defaultEvaluation)), left out here too so that the maps are fitted on prune's training sequences."
  )
  var evalSamples: Int?

  @Option(
    name: .customLong("val-fraction"),
    help: "prune's validation share of the training sequences, which the map is not fitted on.")
  var valFraction: Double?

  @Option(
    name: .customLong("train-memory"),
    help:
      "GiB of captured states kept in memory before spilling to disk (default \(String(format: "%g", CompressionRequest.defaultTrainingMemoryGiB)))."
  )
  var trainMemory: Double?

  var options: TrainingOptions {
    var options = TrainingOptions()
    if let valFraction { options.validationFraction = valFraction }
    return options
  }

  /// Training sequences of `seqLen` tokens, as prune counts them.
  func sequences(seqLen: Int) -> Int {
    trainTokens.map { max(1, $0 / seqLen) } ?? trainSamples ?? CalibrationCounts.defaultTraining
  }

  func trainMemoryBytes() throws -> Int {
    try checkingFlags {
      try Settings.bytes(
        gibibytes: trainMemory ?? CompressionRequest.defaultTrainingMemoryGiB, .trainingMemory)
    }
  }

  func validate() throws {
    guard let curve else {
      let given = [
        ("--heldout", heldout != nil), ("--heldout-seq-len", heldoutSeqLen != nil),
        ("--train-samples", trainSamples != nil), ("--train-tokens", trainTokens != nil),
        ("--eval-samples", evalSamples != nil), ("--val-fraction", valFraction != nil),
        ("--train-memory", trainMemory != nil),
      ].filter(\.1).map(\.0)
      if !given.isEmpty {
        throw ValidationError("\(given.joined(separator: ", ")) belong to --curve N; give it too")
      }
      return
    }
    guard curve >= 1 else { throw ValidationError("--curve must be at least 1, not \(curve)") }
    guard heldout != nil else {
      throw ValidationError(
        "--curve needs --heldout FILE: the held-out text each model's perplexity is measured on")
    }
    if let heldoutSeqLen {
      try checkCount(heldoutSeqLen, "--heldout-seq-len", in: 1...Int(Int32.max))
    }
    try checkingFlags {
      if let trainTokens { try Settings.integer(trainTokens, .trainingTokens, in: 1...(1 << 50)) }
      if let trainSamples {
        try Settings.integer(trainSamples, .trainingSamples, in: 0...Settings.maximumCount)
      }
      if let evalSamples {
        try Settings.integer(evalSamples, .evaluationSamples, in: 0...Settings.maximumCount)
      }
      try options.validate()
    }
    _ = try trainMemoryBytes()
  }
}

/// A curve request the model cannot answer, in `analyze`'s flag names.
struct CurveRequestError: Error, CustomStringConvertible {
  let description: String

  init(_ error: CurveError, requested: Int) {
    switch error {
    case .removalOutOfRange(_, let maximum, let layers):
      description =
        "--curve \(requested): the model has \(layers) layers, so from 1 to \(maximum) can go (one must stay)"
    case .scatteredMetric(let metric):
      description =
        "--curve compares plain removal with the linear map, which replaces one contiguous block: use --metric cosine or angular, not \(metric.rawValue)"
    case .tooFewTrainingSequences(let count):
      description =
        "--curve fits the linear maps on training sequences beyond the scored ones: \(count) is too few; give --train-samples of at least 2"
    case .noHeldOutWindows:
      description = "--heldout: the text holds no token to predict"
    }
  }
}

extension Analyze {
  /// The curve: every count from 1 to N, plain and linear, on the held-out windows `eval
  /// --perplexity` scores, each the model `prune --remove n` would write.
  func runCurve(_ n: Int, heldout: String) throws {
    var policy = OutputPolicy()
    policy.add(model.path, as: "the input model folder")
    policy.add(calibration.source(model), as: "the calibration data")
    policy.add(heldout, as: "the --heldout file")
    let outputs = OutputSet(policy: policy)
    let reportDestination = try report.map {
      try ReportDestination(
        $0, flag: "--report", outputs: outputs, force: false,
        ownFiles: AnalysisReport.files.union(CurveReport.files))
    }
    let documents = try TextFile.read(path: heldout)
    let loaded = try model.load()
    do {
      try RemovalCurve.check(n, layers: loaded.config.numLayers, metric: removal.metric)
    } catch let error as CurveError {
      throw CurveRequestError(error, requested: n)
    }
    let encoder = try loadEncoder(model.model)
    let seqLen = calibration.sequenceLength(loaded)
    let windowLength = curve.heldoutSeqLen ?? seqLen
    let windows = try TextScorer(model: loaded, encoder: encoder).windows(
      documents: documents, seqLen: windowLength, stride: windowLength)

    // The draw `prune --replace linear` makes: scored, held-out, then training sequences.
    let counts = CalibrationCounts(
      scoring: calibration.samples,
      evaluation: curve.evalSamples ?? CalibrationCounts.defaultEvaluation,
      training: curve.sequences(seqLen: seqLen))
    let data = try calibration.draw(for: loaded, options: model, counts: counts)
    var request = CompressionRequest()
    request.metric = removal.metric
    request.replacement = .linear
    request.training = curve.options
    request.scoringSamples = calibration.samples
    request.memoryBudget = try calibration.memoryBudgetBytes()
    request.trainingMemory = try curve.trainMemoryBytes()
    if let folder = reportDestination?.folder { request.spillDirectory = folder }
    let sums = try Similarity.measureSums(
      model: loaded, sequences: data.scoring, memoryBudget: request.memoryBudget,
      progress: Progress("scoring layers", unit: "tokens"))
    let result: RemovalCurve
    do {
      result = try RemovalCurve.measure(
        model: loaded, similarity: sums.matrix, training: data.training, windows: windows,
        heldOut: CurveHeldOut(
          file: heldout, documents: documents.count, seqLen: windowLength, windows: windows),
        upTo: n, request: request, progress: { Progress($0) })
    } catch let error as CurveError {
      throw CurveRequestError(error, requested: n)
    }
    if let reportDestination {
      try reportDestination.writing("--report") {
        try CurveReport.write(result, model: model.model, to: reportDestination.folder)
      }
    }
    try outputs.commit()
    emit(output.json ? try Format.json(result) : CurveReport.table(result))
    if let report, !output.json {
      emit("report: \(report)/summary.md, curve.svg, analysis.json")
    }
  }
}
