import Foundation
import Models
import Tensors

/// What one `streamline prune` run did, in one place: the body of the output's `streamline.json`
/// (`manifest()`; `Surgery.write` adds the tool, source hashes, removed layers and layer counts,
/// `HeldOutEvaluation.record` the held-out perplexity), the `--json` object (`summary`) and the
/// text a user reads (`text`).
public struct PruneRecord: Sendable {
  /// The calibration data the run drew: `streamline.json`'s `calibration`.
  public struct Calibration: Codable, Sendable, Equatable {
    /// What was drawn from where, in words.
    public var description: String
    /// `CalibrationDraw.sha256`: the source's bytes and the cutting options.
    public var sha256: String
    public var scoringSamples: Int
    public var trainingSamples: Int
    public var evalSamples: Int
    /// Sequences the pruned model healed on (nil without healing).
    public var healingSamples: Int?
    public var seqLen: Int
    public var seed: UInt64
    /// The drawing scheme, `CalibrationStream.drawName`.
    public var draw: String
    public var poolSequences: Int
    /// `--train-tokens`, when the training budget was given in tokens.
    public var trainTokens: Int?
    /// True, with the files, when the scores came from `analyze --save-stats` files.
    public var scoredElsewhere: Bool?
    public var statsFiles: [String]?

    enum CodingKeys: String, CodingKey {
      case description, sha256, seed, draw
      case scoringSamples = "scoring_samples"
      case trainingSamples = "training_samples"
      case evalSamples = "eval_samples"
      case healingSamples = "healing_samples"
      case seqLen = "seq_len"
      case poolSequences = "pool_sequences"
      case trainTokens = "train_tokens"
      case scoredElsewhere = "scored_elsewhere"
      case statsFiles = "stats_files"
    }

    /// The record of `draw`, drawn with `counts`; `statsFiles` are the `--stats` files that
    /// gave the scores, if any.
    public init(
      _ draw: CalibrationDraw, counts: CalibrationCounts, seqLen: Int, seed: UInt64,
      trainTokens: Int? = nil, statsFiles: [String]? = nil
    ) {
      description = draw.description
      sha256 = draw.sha256
      scoringSamples = counts.scoring
      trainingSamples = counts.training
      evalSamples = counts.evaluation
      healingSamples = counts.healing > 0 ? counts.healing : nil
      self.seqLen = seqLen
      self.seed = seed
      self.draw = CalibrationStream.drawName
      poolSequences = draw.poolSequences
      self.trainTokens = trainTokens
      scoredElsewhere = statsFiles == nil ? nil : true
      self.statsFiles = statsFiles
    }
  }

  /// `prune --json`: the output and what it holds.
  public struct Summary: Codable, Sendable {
    public let output: String
    public let removedLayers: [Int]
    /// The first layer of the block, where the trained replacement sits (`layer`, `ffn`).
    public let replacedLayer: Int?
    public let numLayers: Int
    public let parameters: Int
    public let parametersBefore: Int
    public let files: [String]
    public let training: TrainingReport?
    public let linearFit: [String: Double]?
    public let evaluation: HeldOutEvaluation?
    public let capture: CaptureReport?
    public let blocks: [RemovedBlock]?
    public let healing: HealingReport?
    public let compute: ComputeRecord

    enum CodingKeys: String, CodingKey {
      case output, parameters, files, training, evaluation, capture, blocks, healing, compute
      case removedLayers = "removed_layers"
      case replacedLayer = "replaced_layer"
      case numLayers = "num_layers"
      case parametersBefore = "parameters_before"
      case linearFit = "linear_fit"
    }
  }

  /// The output folder, as given.
  public var output: String
  public var replacement: ReplacementKind
  /// `--blocks`.
  public var blocksRequested: Int
  /// Nil when nothing was drawn (`--layers` with `--replace none` and no held-out sequences).
  public var calibration: Calibration?
  /// `--layers` as given, when the block was given instead of scored.
  public var layers: String?
  /// The scores (nil when the block was given).
  public var analysis: Analysis?
  /// The block: states `start` → `end`.
  public var start: Int
  public var end: Int
  /// Source layers dropped from the checkpoint.
  public var removed: [Int]
  public var training: TrainingReport?
  public var linearFit: [String: Double]?
  public var capture: CaptureReport?
  public var blocks: [RemovedBlock]?
  public var healing: HealingReport?
  /// The source model's layers and parameters, and the parameters of one of its layers.
  public var layersBefore: Int
  public var parametersBefore: Int
  public var parametersPerLayer: Int
  /// The files written (set once the checkpoint is).
  public var files: [String] = []
  /// The held-out perplexity (set once measured).
  public var evaluation: HeldOutEvaluation?
  /// The precision and instruction set the products ran in.
  public var compute: ComputeRecord

  public init(
    plan: CompressionPlan, config: any Architecture, output: String,
    replacement: ReplacementKind, blocksRequested: Int = 1, calibration: Calibration? = nil,
    layers: String? = nil, compute: ComputeRecord
  ) {
    self.compute = compute
    self.output = output
    self.replacement = replacement
    self.blocksRequested = blocksRequested
    self.calibration = calibration
    self.layers = layers
    analysis = plan.analysis
    start = plan.start
    end = plan.end
    removed = plan.removed
    training = plan.training
    linearFit = plan.linearFit
    capture = plan.capture
    blocks = plan.blocks
    healing = plan.healing
    layersBefore = config.numLayers
    parametersBefore = config.totalParameters
    parametersPerLayer = config.parametersPerLayer
  }

  public var layersAfter: Int { layersBefore - removed.count }
  public var parametersAfter: Int { parametersBefore - removed.count * parametersPerLayer }

  /// The `manifest` of `Surgery.write`, for `streamline.json`.
  ///
  /// Scores and fits are native numbers, so that `Surgery.json` keeps a whole float a float; the
  /// calibration record, the training report and the capture report are their JSON encodings.
  public func manifest() throws -> [String: Any] {
    var manifest: [String: Any] = [
      "replacement": replacement.rawValue, "blocks_requested": blocksRequested,
      "compute": try Self.object(compute),
    ]
    if let calibration { manifest["calibration"] = try Self.object(calibration) }
    if let analysis {
      manifest["metric"] = analysis.metric.rawValue
      manifest["scores"] = analysis.blocks.map {
        ["start": $0.start, "end": $0.end, "cosine": $0.cosine, "angular": $0.angular]
      }
      manifest["layer_bi"] = analysis.layerBI
      if let measured = analysis.measured {
        manifest["selection"] = analysis.selection.rawValue
        manifest["measured"] = try Self.object(measured)
      }
    } else if let layers {
      manifest["selection"] = "--layers \(layers)"
    }
    manifest["block"] = ["start": start, "end": end]
    if let training { manifest["training"] = try Self.object(training) }
    if let linearFit { manifest["linear_fit"] = linearFit }
    if let capture { manifest["capture"] = try Self.object(capture) }
    if let healing { manifest["healing"] = try Self.object(healing) }
    if let blocks {
      manifest["blocks"] = try blocks.map { block in
        var entry: [String: Any] = [
          "layers": block.layers, "cosine": block.cosine, "angular": block.angular,
        ]
        entry["replacement"] = block.replacement?.rawValue
        entry["replaced_layer"] = block.replacedLayer
        entry["trained_above"] = block.trainedAbove
        if let validation = block.validation { entry["validation"] = try Self.object(validation) }
        if let measured = block.measured { entry["measured"] = try Self.object(measured) }
        return entry
      }
    }
    return manifest
  }

  static func object<T: Encodable>(_ value: T) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(Format.json(value).utf8))
  }

  public var summary: Summary {
    Summary(
      output: output, removedLayers: removed,
      replacedLayer: replacement.isTrained && blocks == nil ? start : nil,
      numLayers: layersAfter, parameters: parametersAfter, parametersBefore: parametersBefore,
      files: files, training: training, linearFit: linearFit, evaluation: evaluation,
      capture: capture, blocks: blocks, healing: healing, compute: compute)
  }

  /// What `prune` prints: the output, what went and what replaced it, the training or the fit,
  /// the capture's cost and the held-out perplexity.
  public var text: String {
    var text =
      "wrote \(output): \(removed.count) layers fewer (\(layersAfter) of \(layersBefore)), \(Format.count(parametersAfter)) of \(Format.count(parametersBefore)) parameters"
    if let blocks, replacement.implementation.compensates {
      text +=
        "; \(blocks.count) blocks, each compensated for the original (\(replacement.rawValue)):"
      for block in blocks {
        text += "\n  layers \(AnalysisReport.describe(block.layers)) removed"
        if let layer = block.replacedLayer { text += ", replaced by a trained layer at \(layer)" }
        if let above = block.trainedAbove, !above.isEmpty {
          text += " (trained with the one at \(above.map(String.init).joined(separator: " and ")))"
        }
        if let measured = block.measured, let lowest = measured.map(\.kl).min() {
          text += String(format: "; measured KL %.4f, the lowest of %d", lowest, measured.count)
        }
        if let validation = block.validation {
          text += String(
            format: "; validation %@ %.6f → %.6f", validation.loss, validation.before,
            validation.after)
        }
      }
    } else {
      text += replacement.implementation.describe(self)
    }
    if let capture {
      text += String(
        format: "\ntraining states: %d states × %d tokens (%.2f GiB, %@), captured in %.1f s",
        capture.states.count, capture.tokens, Double(capture.bytes) / Double(1 << 30),
        capture.spilled ? "spilled to disk" : "in memory", capture.seconds)
    }
    if let healing {
      let training = healing.training
      text += String(
        format:
          "\nhealed (%@%@) on %d sequences, %d tokens: validation KL %.6f → %.6f (step %d of %d); %.0f tokens/s",
        healing.scope.rawValue,
        healing.adapters.map { ", rank \($0.rank)" }
          ?? (healing.scope == .last ? ", layers \(AnalysisReport.describe(healing.layers))" : ""),
        healing.sequences, healing.tokens, training.initialValidation, training.bestValidation,
        training.bestStep, training.steps, training.tokensPerSecond)
    }
    if let evaluation { text += "\n" + evaluation.text }
    return text
  }
}
