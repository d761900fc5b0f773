import ArgumentParser
import Checkpoint
import Foundation
import Models
import Streamline

extension TrainingLoss: ExpressibleByArgument {}
extension ReplacementInit: ExpressibleByArgument {}

/// How the replacement is trained.
struct TrainingArguments: ParsableArguments {
  @Option(
    name: .customLong("train-samples"), help: "Calibration sequences that train the replacement.")
  var trainSamples = 64

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
  var epochs = 1

  @Option(help: "Peak learning rate (AdamW, after warm-up, cosine decay).")
  var lr = 2e-4

  @Option(name: .customLong("min-lr"), help: "Learning rate at the end of the cosine decay.")
  var minLr = 5e-5

  @Option(name: .customLong("weight-decay"), help: "AdamW's decoupled weight decay.")
  var weightDecay = 1e-3

  @Option(help: "Share of the steps spent warming up.")
  var warmup = 0.05

  @Option(help: "Global gradient-norm clip.")
  var clip = 5.0

  @Option(name: .customLong("micro-batch"), help: "Sequences per forward and backward.")
  var microBatch = 4

  @Option(name: .customLong("grad-accum"), help: "Micro-batches per optimizer step.")
  var gradAccum = 1

  @Option(name: .customLong("val-fraction"), help: "Share of training sequences held out.")
  var valFraction = 0.1

  @Option(
    name: .customLong("train-memory"),
    help: "GiB of training states kept in memory before spilling to disk.")
  var trainMemory = 8.0

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
    return options
  }

  func validate() throws {
    guard epochs > 0, microBatch > 0, gradAccum > 0, trainSamples >= 0 else {
      throw ValidationError("--epochs, --micro-batch and --grad-accum must be positive")
    }
    guard lr > 0, minLr >= 0, (0..<1).contains(warmup), (0..<1).contains(valFraction), clip > 0
    else {
      throw ValidationError("learning rates, --warmup, --val-fraction and --clip are out of range")
    }
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

  @Flag(help: "Replace a non-empty output folder.")
  var force = false

  @Option(
    name: .customLong("max-shard-size"), help: "Largest safetensors shard, e.g. 5GB or 500MB.")
  var maxShardSize = "5GB"

  @Flag(help: "Print one JSON object instead of text.")
  var json = false

  struct Summary: Codable {
    let output: String
    let removedLayers: [Int]
    let replacedLayer: Int?
    let numLayers: Int
    let parameters: Int
    let parametersBefore: Int
    let files: [String]
    let training: TrainingReport?
    let linearFit: [String: Double]?

    enum CodingKeys: String, CodingKey {
      case output, parameters, files, training
      case removedLayers = "removed_layers"
      case replacedLayer = "replaced_layer"
      case numLayers = "num_layers"
      case parametersBefore = "parameters_before"
      case linearFit = "linear_fit"
    }
  }

  func validate() throws {
    guard (layers != nil) != (removal.request != nil) else {
      throw ValidationError("say what to remove: --remove N, --sparsity S, or --layers A-B")
    }
    if removal.replace != .none || layers == nil, calibration.source(model) == nil {
      throw ValidationError("--calibration is required to score layers or train a replacement")
    }
    _ = try shardBytes()
  }

  func shardBytes() throws -> Int {
    do {
      return try ByteSize.parse(maxShardSize)
    } catch {
      throw ValidationError("\(error)")
    }
  }

  func run() throws {
    let loaded = try model.load()
    let config = loaded.config
    guard let folder = loaded.folder else { return }
    var request = CompressionRequest()
    request.removal = removal.request
    request.metric = removal.metric
    request.replacement = removal.replace
    request.training = training.options
    request.scoringSamples = calibration.samples
    request.memoryBudget = Int(calibration.memoryBudget * Double(1 << 30))
    request.trainingMemory = Int(training.trainMemory * Double(1 << 30))
    request.spillDirectory = URL(fileURLWithPath: output).deletingLastPathComponent()
    if let layers {
      request.layers = try LayerSelection.parse(layers, layerCount: config.numLayers)
    }

    var manifest: [String: Any] = ["replacement": removal.replace.rawValue]
    var sequences: [[Int]] = []
    if calibration.source(model) != nil && (layers == nil || removal.replace != .none) {
      let extra = removal.replace == .none ? 0 : training.trainSamples
      let scored = layers == nil ? calibration.samples : 0
      let data = try calibration.load(
        for: loaded, options: model, samples: scored + extra)
      sequences = data.sequences
      manifest["calibration"] = [
        "description": data.description, "sha256": data.sha256,
        "scoring_samples": scored, "training_samples": extra,
        "seq_len": calibration.sequenceLength(loaded), "seed": calibration.seed,
      ]
    }
    let plan = try Compression.plan(
      model: loaded, sequences: sequences, request: request,
      progress: { Progress($0, unit: "tokens") })
    if let analysis = plan.analysis {
      manifest["metric"] = analysis.metric.rawValue
      manifest["scores"] = analysis.blocks.map {
        ["start": $0.start, "end": $0.end, "cosine": $0.cosine, "angular": $0.angular]
      }
      manifest["layer_bi"] = analysis.layerBI
    } else if let layers {
      manifest["selection"] = "--layers \(layers)"
    }
    manifest["block"] = ["start": plan.start, "end": plan.end]
    if let report = plan.training {
      manifest["training"] = try JSONSerialization.jsonObject(
        with: Data(Format.json(report).utf8))
    }
    if let fit = plan.linearFit { manifest["linear_fit"] = fit }

    let saved = try Surgery.write(
      source: folder, config: config, removing: plan.removed, overrides: plan.overrides,
      manifest: manifest, to: URL(fileURLWithPath: output), force: force,
      maxShardSize: try shardBytes(), progress: Progress("writing", unit: "MB"))
    if let report {
      let url = URL(fileURLWithPath: report)
      if let analysis = plan.analysis {
        try AnalysisReport.write(analysis, model: model.model, to: url)
      }
      if let training = plan.training { try TrainingChart.write(training, to: url) }
    }
    let replaced = removal.replace.isTrained ? plan.start : nil
    let summary = Summary(
      output: output, removedLayers: plan.removed, replacedLayer: replaced,
      numLayers: config.numLayers - plan.removed.count,
      parameters: config.totalParameters - plan.removed.count * config.parametersPerLayer,
      parametersBefore: config.totalParameters, files: saved.files, training: plan.training,
      linearFit: plan.linearFit)
    if json {
      emit(try Format.json(summary))
      return
    }
    var text =
      "wrote \(output): \(config.numLayers - summary.numLayers) layers fewer (\(summary.numLayers) of \(config.numLayers)), \(Format.count(summary.parameters)) of \(Format.count(summary.parametersBefore)) parameters"
    switch removal.replace {
    case .none:
      text += "; removed layers \(AnalysisReport.describe(plan.removed))"
    case .layer, .ffn:
      text +=
        "; layers \(plan.start)–\(plan.end - 1) replaced by one trained \(removal.replace == .layer ? "decoder layer" : "MLP")"
      if let training = plan.training {
        text += String(
          format: "\nvalidation %@: %.6f at the start, %.6f best (step %d of %d)",
          training.options.loss.rawValue, training.initialValidation, training.bestValidation,
          training.bestStep, training.steps)
        if let initialization = training.initialization {
          text += "\ninitialisation \(initialization.chosen.rawValue)"
          if initialization.validation.count > 1 {
            text +=
              " (validation "
              + initialization.validation.sorted { $0.key < $1.key }.map {
                String(format: "%@ %.6f", $0.key, $0.value)
              }.joined(separator: ", ") + ")"
          }
        }
        if let plain = training.plainRemovalValidation {
          text += String(format: "; plain removal %.6f", plain)
        }
        text += String(format: "; %.0f tokens/s", training.tokensPerSecond)
      }
    case .linear:
      text +=
        "; layers \(plan.start)–\(plan.end - 1) removed, a linear map folded into layer \(plan.start - 1)"
      if let fit = plan.linearFit {
        text += String(
          format: "\nvalidation MSE %.6f (plain removal %.6f)", fit["validation_mse"] ?? .nan,
          fit["plain_removal_validation_mse"] ?? .nan)
      }
    }
    emit(text)
  }
}
