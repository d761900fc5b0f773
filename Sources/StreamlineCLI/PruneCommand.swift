import ArgumentParser
import Checkpoint
import Foundation
import Models
import Streamline

struct Prune: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Remove the most redundant block of layers, replace it, and write a standard checkpoint.")

  @OptionGroup var model: ModelOptions

  @Option(help: "The folder to write the pruned checkpoint into (must not exist or be empty).")
  var output: String

  @OptionGroup var calibration: CalibrationArguments
  @OptionGroup var removal: RemovalArguments
  @OptionGroup var training: TrainingArguments
  @OptionGroup var healing: HealingArguments

  @Option(
    help:
      "Remove exactly these layers (0-based, e.g. 10-13; last:N for the last N before the final one), skipping scoring."
  )
  var layers: String?

  @Option(help: "Write the analysis and the training report (JSON, SVG) into this folder.")
  var report: String?

  @Flag(
    help:
      "Replace a non-empty --output folder (a --report folder is replaced only when it holds nothing but report files)."
  )
  var force = false

  @Option(
    name: .customLong("max-shard-size"), help: "Largest safetensors shard, e.g. 5GB or 500MB.")
  var maxShardSize = "5GB"

  @Flag(help: "Print one JSON object instead of text.")
  var json = false

  @Option(help: "Also write the pruned model as this GGUF file for llama.cpp (see export).")
  var gguf: String?

  @Option(
    name: .customLong("gguf-type"), help: "The GGUF file's weight type: f32, f16, bf16 or q8_0.")
  var ggufType: GGUFExport.FileType = .f32

  @Option(
    name: .customLong("eval-samples"),
    help:
      "Held-out calibration sequences (used by nothing else) for the final perplexity of the original, plain removal and pruned model; 0 skips it."
  )
  var evalSamples = CalibrationCounts.defaultEvaluation

  @Option(
    help:
      "Remove the layers in this many blocks: each block is chosen on the model pruned (and compensated) so far, and its replacement learns to reproduce the original."
  )
  var blocks = 1

  @Option(
    help:
      "How the block is chosen: similarity (by --metric alone) or measured (the best --candidates by --metric, each compensated with the training-free map, the one closest to the original by KL on the scored sequences). Default: measured for --blocks above 1 with a replacement and a block metric, similarity otherwise."
  )
  var select: SelectionKind?

  @Option(help: "Blocks --select measured measures.")
  var candidates = 4

  @Option(
    parsing: .upToNextOption,
    help: "Use these analyze --save-stats files (every shard) as the scores instead of scoring.")
  var stats: [String] = []

  @Flag(
    name: .customLong("stop-after-capture"),
    help: ArgumentHelp(
      "Capture the training states, report what they cost, and stop (measurements).",
      visibility: .hidden))
  var stopAfterCapture = false

  func validate() throws {
    try checkingFlags {
      try Settings.integer(evalSamples, .evaluationSamples, in: 0...Settings.maximumCount)
      try Settings.integer(blocks, .blocks, in: 1...Settings.maximumCount)
      try Settings.integer(candidates, .candidates, in: 1...Settings.maximumCount)
    }
    if !stats.isEmpty && layers != nil {
      throw ValidationError("--stats gives the scores; --layers skips scoring: give one")
    }
    guard (layers != nil) != (removal.request != nil) else {
      throw ValidationError("say what to remove: --remove N, --sparsity S, or --layers A-B")
    }
    let needsCalibration =
      removal.replace.implementation.needsTrainingSequences || layers == nil
      || healing.heal != nil
    if needsCalibration, calibration.source(model) == nil {
      throw ValidationError(
        "--calibration is required to score layers, train a replacement or heal")
    }
    _ = try shardBytes()
    if let gguf {
      var policy = inputPolicy()
      policy.add(output, as: "the --output folder")
      try GGUFTarget.check(gguf, policy: policy, force: force)
    }
  }

  /// The request the flags make.
  func request() throws -> PruneRequest {
    var request = PruneRequest(model: model.model, output: output)
    request.precision = model.precision.announced
    request.calibration = calibration.calibrationSource
    request.layers = layers
    request.trainingSamples = training.trainSamples
    request.trainingTokens = training.trainTokens
    request.healingSamples = healing.healSamples
    request.healingTokens = healing.healTokens
    request.evaluationSamples = evalSamples
    request.statistics = stats
    request.report = report
    request.force = force
    request.maxShardSize = try shardBytes()
    request.gguf = gguf
    request.ggufType = ggufType
    request.names.statistics = "the --stats file"
    request.names.output = "the --output folder"
    var compression = CompressionRequest()
    compression.removal = removal.request
    compression.metric = removal.metric
    compression.replacement = removal.replace
    compression.training = training.options
    compression.healing = healing.options(training: training.options)
    compression.scoringSamples = calibration.samples
    compression.memoryBudget = try calibration.memoryBudgetBytes()
    compression.trainingMemory = try training.trainMemoryBytes()
    compression.blocks = blocks
    compression.selection = select
    compression.candidates = candidates
    compression.stopAfterCapture = stopAfterCapture
    request.compression = compression
    return request
  }

  /// What this run reads, which nothing it writes may touch.
  func inputPolicy() -> OutputPolicy {
    var request = PruneRequest(model: model.model, output: output)
    request.calibration = calibration.calibrationSource
    request.statistics = stats
    request.names.statistics = "the --stats file"
    return request.inputPolicy
  }

  func shardBytes() throws -> Int {
    do {
      return try ByteSize.parse(maxShardSize)
    } catch {
      throw ValidationError(ErrorWording.text(error))
    }
  }

  /// Library errors are worded with this command's flags here, where the command runs.
  func run() throws {
    try ErrorWording.wording { try execute() }
  }

  func execute() throws {
    let result = try PruneJob.run(try request())
    if stopAfterCapture {
      emit(try Format.json(result.capture))
      return
    }
    guard let record = result.record else { return }
    emit(json ? try Format.json(record.summary) : record.text)
  }
}
