import ArgumentParser
import Foundation
import Models
import Streamline
import Tokenizers

extension ImportanceMetric: ExpressibleByArgument {}
extension ReplacementKind: ExpressibleByArgument {}

/// Where calibration text comes from and how it is cut.
struct CalibrationArguments: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Calibration data: a .txt file, a .jsonl file (text field or input_ids), or a folder (default for the demo model: its held-out calibration text).",
      valueName: "path"))
  var calibration: String?

  @Option(
    name: .customLong("seq-len"),
    help: "Tokens per calibration sequence (default 512, or the model's context if shorter).")
  var seqLen: Int?

  @Option(help: "Calibration sequences to draw.")
  var samples = 64

  @Option(help: "Seed for drawing the sequences.")
  var seed: UInt64 = 0

  @Flag(name: .customLong("line-docs"), help: "Treat each line of a .txt file as a document.")
  var lineDocs = false

  @Option(name: .customLong("text-field"), help: "The text field of .jsonl calibration files.")
  var textField = "text"

  @Option(
    name: .customLong("memory-budget"),
    help: "GiB of hidden states kept at once while scoring (more passes when exceeded).")
  var memoryBudget = 8.0

  func validate() throws {
    try checkingFlags {
      // A sequence of one token predicts nothing: a held-out perplexity over 0 tokens and a
      // training loss of exactly 0 would be made up.
      if let seqLen { try Settings.integer(seqLen, .sequenceLength, in: 2...Settings.maximumCount) }
      try Settings.integer(samples, .scoringSamples, in: 1...Settings.maximumCount)
      _ = try memoryBudgetBytes()
    }
  }

  /// `--memory-budget` in bytes (checked: NaN, infinity or 1e10 GiB must not reach `Int(_:)`).
  func memoryBudgetBytes() throws -> Int {
    try checkingFlags { try Settings.bytes(gibibytes: memoryBudget, .memoryBudget) }
  }

  /// The calibration data: `--calibration`, or the demo model's own.
  func source(_ model: ModelOptions) -> String? {
    calibration ?? (model.isDemo ? DemoModel.calibration.path : nil)
  }

  func sequenceLength(_ model: DecoderModel) -> Int {
    seqLen ?? min(512, model.config.maxPositions ?? 512)
  }

  /// The calibration set, `samples` sequences (default `--samples`).
  func load(for model: DecoderModel, options modelOptions: ModelOptions, samples: Int? = nil)
    throws -> CalibrationSet
  {
    guard let calibration = source(modelOptions) else {
      throw ValidationError("--calibration is required to score layers")
    }
    let modelPath = modelOptions.path
    var options = CalibrationOptions(path: calibration)
    options.seqLen = sequenceLength(model)
    options.samples = samples ?? self.samples
    options.seed = seed
    // The demo's calibration text holds one chapter per line, as the model was trained.
    options.lineDocuments = lineDocs || (self.calibration == nil && modelOptions.isDemo)
    options.textField = textField
    let tokenizer = try loadTokenizer(modelPath)
    return try Calibration.load(
      options, tokenizer: tokenizer, vocabularySize: model.config.vocabSize,
      progress: Progress("tokenizing calibration documents", unit: "tokens"))
  }

  /// Scoring, held-out and training sequences streamed from the calibration source in one draw
  /// (see `CalibrationStream`).
  func draw(for model: DecoderModel, options modelOptions: ModelOptions, counts: CalibrationCounts)
    throws -> CalibrationDraw
  {
    guard let calibration = source(modelOptions) else {
      throw ValidationError("--calibration is required to score layers")
    }
    var options = CalibrationOptions(path: calibration)
    options.seqLen = sequenceLength(model)
    options.samples = max(1, counts.total)
    options.seed = seed
    options.lineDocuments = lineDocs || (self.calibration == nil && modelOptions.isDemo)
    options.textField = textField
    return try CalibrationStream.draw(
      options, counts: counts, tokenizer: try loadTokenizer(modelOptions.path),
      vocabularySize: model.config.vocabSize,
      progress: Progress("reading calibration files", unit: "tokens"))
  }

  /// The model folder's tokenizer, with special-token text in calibration data read as plain
  /// text (calibration data is untrusted).
  func loadTokenizer(_ modelPath: String) throws -> Tokenizer? {
    let folder = URL(fileURLWithPath: modelPath)
    guard
      FileManager.default.fileExists(atPath: folder.appendingPathComponent("tokenizer.json").path)
    else { return nil }
    let tokenizer = try Tokenizer.load(from: folder)
    tokenizer.specialTokenTextIsPlain = true
    return tokenizer
  }
}

/// How many layers go, how they are chosen and what replaces them.
struct RemovalArguments: ParsableArguments {
  @Option(help: "Remove this many layers.")
  var remove: Int?

  @Option(help: "Remove this share of all parameters (0 < S < 1), net of the replacement.")
  var sparsity: Double?

  @Option(help: "Redundancy metric: cosine (LLM-Streamline), angular or bi (ShortGPT).")
  var metric: ImportanceMetric = .cosine

  @Option(
    help:
      "What replaces the block: layer (a trained decoder layer), ffn (a trained MLP), linear (training-free map) or none."
  )
  var replace: ReplacementKind = .layer

  var request: RemovalRequest? {
    if let remove { return .layers(remove) }
    if let sparsity { return .sparsity(sparsity) }
    return nil
  }

  func validate() throws {
    try checkingFlags { try request?.validate() }
    if remove != nil && sparsity != nil {
      throw ValidationError("give either --remove or --sparsity, not both")
    }
    // The library's rule, checked here too so that the mistake is reported before any work.
    do {
      try Importance.checkMetric(metric, replacement: replace)
    } catch {
      throw ValidationError("\(error)")
    }
  }
}
