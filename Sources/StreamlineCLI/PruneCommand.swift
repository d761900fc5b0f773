import ArgumentParser
import Checkpoint
import Foundation
import Models
import Streamline

extension TrainingLoss: ExpressibleByArgument {}
extension ReplacementInit: ExpressibleByArgument {}
extension SelectionKind: ExpressibleByArgument {}

/// How the replacement is trained.
struct TrainingArguments: ParsableArguments {
  @Option(
    name: .customLong("train-samples"), help: "Calibration sequences that train the replacement.")
  var trainSamples = CalibrationCounts.defaultTraining

  @Option(
    help:
      "Training loss: mse (hidden states), lm (the pruned model's language-model loss) or kd (distillation: KL to the original model's next-token distribution)."
  )
  var loss: TrainingLoss = .kd

  @Option(
    name: .customLong("init"),
    help:
      "Replacement start: first (the block's first layer), linear (that layer with the training-free linear map folded in), merge (similarity-weighted average of the block's layers), auto (the best of them on the validation split)."
  )
  var initialization: ReplacementInit = .auto

  @Option(help: "Passes over the training sequences.")
  var epochs = TrainingOptions().epochs

  @Option(help: "Peak learning rate (AdamW, after warm-up, cosine decay).")
  var lr = TrainingOptions().learningRate

  @Option(name: .customLong("min-lr"), help: "Learning rate at the end of the cosine decay.")
  var minLr = TrainingOptions().minimumLearningRate

  @Option(name: .customLong("weight-decay"), help: "AdamW's decoupled weight decay.")
  var weightDecay = TrainingOptions().weightDecay

  @Option(help: "Share of the steps spent warming up.")
  var warmup = TrainingOptions().warmupFraction

  @Option(help: "Global gradient-norm clip.")
  var clip = TrainingOptions().gradientClip

  @Option(name: .customLong("micro-batch"), help: "Sequences per forward and backward.")
  var microBatch = TrainingOptions().microBatch

  @Option(name: .customLong("grad-accum"), help: "Micro-batches per optimizer step.")
  var gradAccum = TrainingOptions().accumulation

  @Option(name: .customLong("val-fraction"), help: "Share of training sequences held out.")
  var valFraction = TrainingOptions().validationFraction

  @Option(
    name: .customLong("train-tokens"),
    help:
      "Training budget in tokens, instead of --train-samples: this many tokens' worth of sequences, streamed from the calibration source."
  )
  var trainTokens: Int?

  @Option(
    name: .customLong("train-memory"),
    help: "GiB of training states kept in memory before spilling to disk.")
  var trainMemory = CompressionRequest.defaultTrainingMemoryGiB

  @Flag(
    name: .customLong("heal-neighbors"),
    help:
      "Also train the layer before the block and (lm, kd) the layer after it, at --heal-lr-scale times the learning rate."
  )
  var healNeighbors = false

  @Option(
    name: .customLong("heal-lr-scale"),
    help: "The healed neighbours' learning rate as a share of the replacement's.")
  var healLrScale = TrainingOptions().healRateScale

  var options: TrainingOptions {
    var options = TrainingOptions()
    options.loss = loss
    options.initialization = initialization
    options.epochs = epochs
    options.learningRate = lr
    options.minimumLearningRate = minLr
    options.weightDecay = weightDecay
    options.warmupFraction = warmup
    options.gradientClip = clip
    options.microBatch = microBatch
    options.accumulation = gradAccum
    options.validationFraction = valFraction
    options.healNeighbors = healNeighbors
    options.healRateScale = healLrScale
    return options
  }

  /// Training sequences of `seqLen` tokens: --train-tokens' worth, else --train-samples.
  func sequences(seqLen: Int) -> Int {
    trainTokens.map { max(1, $0 / seqLen) } ?? trainSamples
  }

  /// `--train-memory` in bytes (checked, as `--memory-budget`).
  func trainMemoryBytes() throws -> Int {
    try checkingFlags { try Settings.bytes(gibibytes: trainMemory, .trainingMemory) }
  }

  func validate() throws {
    try checkingFlags {
      if let trainTokens {
        // 2^50 tokens: past any data set, and the sequence counts it makes still add up safely.
        try Settings.integer(trainTokens, .trainingTokens, in: 1...(1 << 50))
      }
      try Settings.integer(trainSamples, .trainingSamples, in: 0...Settings.maximumCount)
      try options.validate()
    }
    _ = try trainMemoryBytes()
  }
}

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

  @Option(help: "Remove exactly these layers (0-based, e.g. 10-13), skipping scoring.")
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
    if removal.replace != .none || layers == nil, calibration.source(model) == nil {
      throw ValidationError("--calibration is required to score layers or train a replacement")
    }
    _ = try shardBytes()
    if let gguf {
      var policy = inputPolicy()
      policy.add(output, as: "the --output folder")
      try GGUFTarget.check(gguf, policy: policy, force: force, flag: "--gguf")
    }
  }

  /// What this run reads, which nothing it writes may touch.
  func inputPolicy() -> OutputPolicy {
    var policy = OutputPolicy()
    policy.add(model.path, as: "the input model folder")
    policy.add(calibration.source(model), as: "the calibration data")
    for file in stats { policy.add(file, as: "the --stats file") }
    return policy
  }

  func shardBytes() throws -> Int {
    do {
      return try ByteSize.parse(maxShardSize)
    } catch {
      throw ValidationError("\(error)")
    }
  }

  func run() throws {
    // Every path this writes is checked, and the output's temporary folder made, before any
    // work: a refused path costs nothing, and training states spill into that folder (so a
    // parent that does not exist yet is no problem, and nothing is left outside it).
    // Every output is staged in one set and committed together at the end, or none is.
    let outputs = OutputSet(policy: inputPolicy())
    let out = try outputs.folder(output, label: "--output", force: force)
    let reportDestination = try report.map {
      // --force is for the checkpoint: a report folder is replaced only when it holds nothing
      // but report files, so a mistyped --report never takes a folder of the user's with it.
      try ReportDestination(
        $0, flag: "--report", outputs: outputs, force: false,
        ownFiles: AnalysisReport.files.union(TrainingChart.files), within: out)
    }
    let ggufFile = try gguf.map { try outputs.file($0, label: "--gguf", force: force) }

    let loaded = try model.load()
    let config = loaded.config
    guard let folder = loaded.folder else { return }
    // What the copy and the export will meet, checked before any work: the side files, the
    // dtype of every tensor, and for a GGUF the tokenizer it embeds and finite weights.
    try Surgery.checkSource(folder, values: gguf != nil)
    if gguf != nil { try GGUFExport.check(source: folder.url, config: config) }
    var request = CompressionRequest()
    request.removal = removal.request
    request.metric = removal.metric
    request.replacement = removal.replace
    request.training = training.options
    request.scoringSamples = calibration.samples
    request.memoryBudget = try calibration.memoryBudgetBytes()
    request.trainingMemory = try training.trainMemoryBytes()
    request.spillDirectory = out.url
    if let layers {
      request.layers = try LayerSelection.parse(layers, layerCount: config.numLayers)
    }

    request.blocks = blocks
    request.selection = select
    request.candidates = candidates
    request.stopAfterCapture = stopAfterCapture
    var merged: ScoringStats?
    if !stats.isEmpty {
      let result = try Analyze.mergeStats(
        stats, configSHA256: ScoringStats.configHash(folder.configData))
      merged = result.header
      request.sums = result.sums
      guard result.header.seqLen == calibration.sequenceLength(loaded),
        result.header.seed == calibration.seed
      else {
        throw ValidationError(
          "--stats were computed with --seq-len \(result.header.seqLen) and --seed \(result.header.seed); give the same here"
        )
      }
    }

    var drawn: PruneRecord.Calibration?
    var data: CalibrationDraw?
    if calibration.source(model) != nil {
      let seqLen = calibration.sequenceLength(loaded)
      let extra = removal.replace == .none ? 0 : training.sequences(seqLen: seqLen)
      let scored = layers == nil ? merged?.samples ?? calibration.samples : 0
      let counts = CalibrationCounts(scoring: scored, evaluation: evalSamples, training: extra)
      // The peak this run will need, against every memory limit it runs under, before work.
      try MemoryLimits.current().check(
        MemoryEstimate.run(
          config: config, checkpointBytes: folder.files.reduce(0) { $0 + $1.file.size },
          seqLen: seqLen, scoring: scored, evaluation: evalSamples, training: extra,
          memoryBudget: request.memoryBudget, trainingMemory: request.trainingMemory),
        for: "this prune")
      if counts.total > 0 {
        let draw = try calibration.draw(for: loaded, options: model, counts: counts)
        if let merged, merged.calibrationSHA256 != draw.sha256 {
          throw ValidationError(
            "--stats were computed on other calibration data (or another seed or seq-len) than \(calibration.source(model)!)"
          )
        }
        data = draw
        drawn = PruneRecord.Calibration(
          draw, counts: counts, seqLen: seqLen, seed: calibration.seed,
          trainTokens: training.trainTokens, statsFiles: merged == nil ? nil : stats)
      }
    }
    let plan: CompressionPlan
    do {
      // Training states spill into the output's temporary folder: an error names the output.
      plan = try out.naming {
        try Compression.plan(
          model: loaded, scoring: request.sums == nil ? data?.scoring ?? [] : [],
          training: data?.training ?? [], request: request,
          progress: { Progress($0, unit: "tokens") })
      }
    } catch let error as CompressionError {
      throw PruneRequestError(
        error, trainTokens: training.trainTokens, seqLen: calibration.sequenceLength(loaded))
    }
    if stopAfterCapture {
      emit(try Format.json(plan.capture))
      return
    }
    var record = PruneRecord(
      plan: plan, config: config, output: output, replacement: removal.replace,
      blocksRequested: blocks, calibration: drawn, layers: layers,
      compute: ComputeRecord(precision: loaded.precision))
    // Everything that belongs to the result (checkpoint, manifest with its held-out evaluation,
    // report) is written before anything is committed, so a late failure leaves no
    // complete-looking output behind and an earlier output in place.
    let manifest = try record.manifest()
    let saved = try forOption("--output") {
      try out.naming {
        try Surgery.write(
          source: folder, config: config, removing: plan.removed, overrides: plan.overrides,
          manifest: manifest, into: out, maxShardSize: try shardBytes(),
          progress: Progress("writing", unit: "MB"))
      }
    }
    record.files = saved.files
    if let held = data?.evaluation, !held.isEmpty {
      let evaluation = try out.naming {
        try HeldOutEvaluation.measure(
          original: loaded, pruned: try DecoderModel(url: out.url, precision: model.precision),
          plainRemoval: removal.replace == .none ? nil : plan.plainRemovalBaseline,
          sequences: held, progress: Progress("held-out perplexity", unit: "models"))
      }
      try forOption("--output") { try out.naming { try evaluation.record(in: out) } }
      record.evaluation = evaluation
    }
    // The GGUF is made from the finished folder, named after the output the user gave.
    if let ggufFile {
      try forOption("--gguf") {
        try out.naming {
          try GGUFExport(folder: out.url, fileType: ggufType, name: out.target.lastPathComponent)
            .write(into: ggufFile, progress: Progress("writing GGUF", unit: "MB"))
        }
      }
    }
    if let reportDestination {
      try reportDestination.writing("--report") {
        if let analysis = plan.analysis {
          try AnalysisReport.write(analysis, model: model.model, to: reportDestination.folder)
        }
        if let training = plan.training {
          try TrainingChart.write(training, to: reportDestination.folder)
        }
      }
    }
    try outputs.commit()
    emit(json ? try Format.json(record.summary) : record.text)
  }
}
