import ArgumentParser
import Checkpoint
import Evaluation
import Foundation
import Models
import Streamline
import Tensors

extension TaskFormat: ExpressibleByArgument {}

/// Task files and text, shared by `eval` and `compare`.
struct EvaluationOptions: ParsableArguments {
  @Option(
    name: .customLong("task"),
    help: ArgumentHelp(
      "A multiple-choice task file (JSONL), repeatable: {\"context\", \"choices\", \"label\"} or "
        + "the native layout of piqa, hellaswag, arc_easy, arc_challenge, boolq, winogrande, "
        + "openbookqa or rte, scored with lm-eval 0.4's semantics.",
      valueName: "file"))
  var tasks: [String] = []

  @Option(help: "The layout of every --task file (default: detected from the fields).")
  var format: TaskFormat?

  @Option(help: "Score only the first N items of each task.")
  var limit: Int?

  @Option(
    help: ArgumentHelp(
      "Text for perplexity: .txt (one document) or .jsonl (a \"text\" field per line).",
      valueName: "file"))
  var perplexity: String?

  @Option(
    name: .customLong("seq-len"),
    help: "Window length for perplexity (default: the model's context length, at most 2048).")
  var seqLen: Int?

  @Option(help: "New tokens scored per window (default: --seq-len, as lm-eval's wikitext).")
  var stride: Int?

  @Option(
    name: .customLong("text-field"), help: "The field holding the text in a .jsonl --perplexity.")
  var textField: String?

  @Option(name: .customLong("batch-rows"), help: "Rows (tokens) per forward.")
  var batchRows = 2048

  @Flag(
    name: .customLong("no-shared-context"),
    help: "Score every choice as its own full sequence (slower; for speed comparisons).")
  var noSharedContext = false

  func validate() throws {
    if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    if let seqLen, seqLen < 1 { throw ValidationError("--seq-len must be at least 1") }
    if let stride, stride < 1 { throw ValidationError("--stride must be at least 1") }
    if let stride, let seqLen, stride > seqLen {
      throw ValidationError("--stride must not exceed --seq-len")
    }
    if (seqLen != nil || stride != nil || textField != nil) && perplexity == nil {
      throw ValidationError("--seq-len, --stride and --text-field need --perplexity")
    }
    guard batchRows >= 1 else { throw ValidationError("--batch-rows must be at least 1") }
    // Upper bounds too: each becomes an allocation or a product of counts.
    if let seqLen { try checkCount(seqLen, "--seq-len", in: 1...Int(Int32.max)) }
    if let stride { try checkCount(stride, "--stride", in: 1...Int(Int32.max)) }
    try checkCount(batchRows, "--batch-rows", in: 1...(1 << 24))
  }

  /// The task and text files, as inputs no output may overwrite.
  func addInputs(to policy: inout OutputPolicy) {
    for task in tasks { policy.add(task, as: "the --task file") }
    policy.add(perplexity, as: "the --perplexity file")
  }

  func readTasks() throws -> [TaskFile] {
    try tasks.map { try TaskFile.read(path: $0, format: format) }
  }

  /// Scores one task, timed.
  func score(_ task: TaskFile, model: DecoderModel, encoder: RequestEncoder, label: String)
    throws -> (TaskScore, TaskReport)
  {
    var scorer = MultipleChoiceScorer(model: model, encoder: encoder)
    scorer.batchRows = batchRows
    scorer.shareContext = !noSharedContext
    let progress = Progress("\(label)\(task.name)", unit: "items")
    let start = Date()
    let score = try scorer.score(task, limit: limit) { done, total in
      progress.update(done, of: total, amount: Double(done))
    }
    let report = TaskReport(score, file: task.path, seconds: Date().timeIntervalSince(start))
    return (score, report)
  }

  func windowLength(_ encoder: RequestEncoder) -> (Int, Int) {
    let length = seqLen ?? min(encoder.maxLength, 2048)
    return (length, stride ?? length)
  }
}

/// The tokenizer of a model folder, with the folder named when it has none.
func loadEncoder(_ name: String) throws -> RequestEncoder {
  let path = DemoModel.resolve(name)
  return try RequestEncoder(modelFolder: URL(fileURLWithPath: path))
}

struct Eval: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Score a model: perplexity, zero-shot multiple-choice accuracy, divergence.",
    discussion: """
      --token-ids FILE: mean next-token NLL of token-id sequences (no tokenizer needed).
      --perplexity FILE: rolling-window perplexity (token, word, byte; bits per byte); with
        --reference ORIGINAL also the KL divergence from ORIGINAL, top-1 agreement and the mean
        change in the probability of the actual token, in one pass over both models.
      --task FILE (repeatable): acc and acc_norm with standard errors, lm-eval 0.4 semantics;
        --predictions OUT.jsonl records every choice's log-likelihood per item.
      """)

  @OptionGroup var model: ModelOptions

  @Option(
    name: .customLong("token-ids"),
    help: "A file of token-id sequences, one per line (space/comma separated or a JSON array).")
  var tokenIds: String?

  @OptionGroup var evaluation: EvaluationOptions

  @Option(help: "Write per-item predictions (JSONL) for `streamline stability`.")
  var predictions: String?

  @Option(help: "An original model to measure --perplexity's distribution shift against.")
  var reference: String?

  @OptionGroup var output: OutputOptions

  func validate() throws {
    guard tokenIds != nil || evaluation.perplexity != nil || !evaluation.tasks.isEmpty else {
      throw ValidationError("give --token-ids, --perplexity or --task")
    }
    if reference != nil && evaluation.perplexity == nil {
      throw ValidationError("--reference needs --perplexity")
    }
    if predictions != nil && evaluation.tasks.isEmpty {
      throw ValidationError("--predictions needs --task")
    }
  }

  struct Report: Codable {
    let nll: Double
    let perplexity: Double
    let tokens: Int
    let sequences: Int
  }

  struct FullReport: Codable {
    var model: String
    var tokenIds: Report?
    var perplexity: TextPerplexity?
    var divergence: Divergence?
    var tasks: [TaskReport]

    enum CodingKeys: String, CodingKey {
      case model, perplexity, divergence, tasks
      case tokenIds = "token_ids"
    }
  }

  func run() throws {
    // The predictions file is checked against every input before any work.
    var policy = OutputPolicy()
    policy.add(model.path, as: "the input model folder")
    policy.add(reference.map(DemoModel.resolve), as: "the --reference model folder")
    policy.add(tokenIds, as: "the --token-ids file")
    evaluation.addInputs(to: &policy)
    let outputs = OutputSet(policy: policy)
    let predictionsFile = try predictions.map { try outputs.file($0, label: "--predictions") }
    // Read every input before the model work starts, so a bad file fails at once.
    let tasks = try evaluation.readTasks()
    let documents = try evaluation.perplexity.map {
      try TextFile.read(path: $0, field: evaluation.textField)
    }
    let loaded = try model.load(resident: true)
    let referenceModel = try reference.map {
      try DecoderModel(
        url: URL(fileURLWithPath: DemoModel.resolve($0)), precision: model.precision,
        residentWeights: true)
    }
    var full = FullReport(model: model.model, tasks: [])

    if let tokenIds {
      let sequences = try TokenIdsFile.read(path: tokenIds)
      let progress = Progress("scoring sequences")
      let result = try Perplexity.score(loaded, sequences: sequences) { done, total in
        progress.update(done, of: total)
      }
      full.tokenIds = Report(
        nll: result.meanNLL, perplexity: result.perplexity, tokens: result.tokens,
        sequences: sequences.count)
    }
    let encoder = documents != nil || !tasks.isEmpty ? try loadEncoder(model.model) : nil
    if let documents, let encoder {
      let (seqLen, stride) = evaluation.windowLength(encoder)
      var scorer = TextScorer(model: loaded, encoder: encoder)
      scorer.batchRows = max(evaluation.batchRows, seqLen)
      let progress = Progress("perplexity windows")
      let (result, divergence) = try scorer.run(
        documents: documents, seqLen: seqLen, stride: stride, reference: referenceModel
      ) { done, total in progress.update(done, of: total) }
      full.perplexity = result
      full.divergence = divergence
    }
    var scores: [TaskScore] = []
    if let encoder {
      for task in tasks {
        let (score, report) = try evaluation.score(
          task, model: loaded, encoder: encoder, label: "")
        scores.append(score)
        full.tasks.append(report)
      }
    }
    if let predictionsFile {
      try forOption("--predictions") {
        try predictionsFile.write(try PredictionsFile.data(PredictionsFile.lines(scores)))
      }
      try outputs.commit()
    }

    // --token-ids alone keeps its original output.
    if let report = full.tokenIds, evaluation.perplexity == nil, tasks.isEmpty {
      if output.json {
        emit(try Format.json(report))
      } else {
        emit(
          String(
            format: "nll %.6f nats/token · perplexity %.4f · %d predicted tokens in %d sequences",
            report.nll, report.perplexity, report.tokens, report.sequences))
      }
      try Self.refuseNonFinite(full)
      return
    }
    if output.json {
      emit(try Format.jsonNumbers(full))
      try Self.refuseNonFinite(full)
      return
    }
    var lines: [String] = []
    if let report = full.tokenIds {
      lines.append(
        String(
          format: "token ids: nll %.6f nats/token · perplexity %.4f · %d tokens in %d sequences",
          report.nll, report.perplexity, report.tokens, report.sequences))
    }
    if let p = full.perplexity { lines.append(p.text) }
    if let d = full.divergence { lines.append(d.text) }
    lines += full.tasks.map(\.text)
    emit(lines.joined(separator: "\n"))
    try Self.refuseNonFinite(full)
  }

  /// A perplexity of NaN or infinity means the model's outputs overflow or hold NaN: the
  /// numbers are printed (they say where), but the run is not a success.
  static func refuseNonFinite(_ full: FullReport) throws {
    var bad: [String] = []
    if let r = full.tokenIds, !(r.nll.isFinite && r.perplexity.isFinite) {
      bad.append("--token-ids perplexity is \(r.perplexity)")
    }
    if let p = full.perplexity, !(p.nll.isFinite && p.perplexity.isFinite) {
      bad.append("--perplexity perplexity is \(p.perplexity)")
    }
    guard !bad.isEmpty else { return }
    throw EvaluationError.invalid(
      "\(bad.joined(separator: "; ")): the model's outputs are not finite (NaN or overflowing weights or activations), so the result means nothing"
    )
  }
}

struct Stability: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Stability of a compressed model's answers against the original's, per task.",
    discussion: """
      Reads two predictions files written by `streamline eval --task ... --predictions`. \
      Stability (Chen et al., ICLR 2025): items where the compressed model is right exactly when \
      the original is, each weighted by softmax over items of the population standard deviation \
      of the original's per-token mean choice NLLs. Also plain agreement (same prediction) and \
      both accuracies.
      """)

  @Option(help: "Predictions of the original model.")
  var original: String

  @Option(help: "Predictions of the compressed model.")
  var compressed: String

  @OptionGroup var output: OutputOptions

  func run() throws {
    let results = try StabilityResult.compare(
      original: try PredictionsFile.read(path: original), originalPath: original,
      compressed: try PredictionsFile.read(path: compressed), compressedPath: compressed)
    if output.json {
      emit(try Format.jsonNumbers(results))
      return
    }
    var lines = ["task            items  stability  agreement  original acc  compressed acc"]
    for r in results {
      lines.append(
        r.task.padding(toLength: 15, withPad: " ", startingAt: 0)
          + String(
            format: " %5d    %6.2f%%    %6.2f%%       %6.2f%%         %6.2f%%", r.items,
            r.stability * 100, r.agreement * 100, r.originalAcc * 100, r.compressedAcc * 100))
    }
    emit(lines.joined(separator: "\n"))
  }
}

struct Compare: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Original beside compressed: size, speed, accuracy, stability, perplexity, KL.")

  @Argument(help: "The original model folder.")
  var original: String

  @Argument(help: "The compressed model folder.")
  var compressed: String

  @Option(help: "Matrix-product precision: f32 or bf16.")
  var precision: Precision = .f32

  @OptionGroup var evaluation: EvaluationOptions

  @Option(help: "Write comparison.md, comparison.json, comparison.svg and both predictions here.")
  var report: String?

  @Option(name: .customLong("speed-tokens"), help: "Tokens in the forward-speed measurement.")
  var speedTokens = 256

  @OptionGroup var output: OutputOptions

  func validate() throws {
    try checkCount(speedTokens, "--speed-tokens", in: 1...(1 << 20))
  }

  func run() throws {
    var policy = OutputPolicy()
    policy.add(DemoModel.resolve(original), as: "the original model folder")
    policy.add(DemoModel.resolve(compressed), as: "the compressed model folder")
    evaluation.addInputs(to: &policy)
    let outputs = OutputSet(policy: policy)
    let reportDestination = try report.map {
      try ReportDestination(
        $0, flag: "--report", outputs: outputs, force: false, ownFiles: Comparison.files)
    }
    let tasks = try evaluation.readTasks()
    let documents = try evaluation.perplexity.map {
      try TextFile.read(path: $0, field: evaluation.textField)
    }
    let originalFolder = URL(fileURLWithPath: DemoModel.resolve(original))
    let compressedFolder = URL(fileURLWithPath: DemoModel.resolve(compressed))
    // Each model's own tokenizer, read (and refused when unreadable) before any model work.
    let encoders =
      documents != nil || !tasks.isEmpty
      ? try Comparison.encoders(original: originalFolder, compressed: compressedFolder) : nil
    if let encoders, documents != nil, !encoders.tokenizers.identical {
      throw EvaluationError.invalid(
        "--perplexity: the compressed model's tokenizer (\(encoders.tokenizers.compressed)) differs from the original's (\(encoders.tokenizers.original)); perplexity and KL divergence score both models on the same tokens"
      )
    }
    let a = try DecoderModel(
      url: originalFolder, precision: precision.announced, residentWeights: true)
    let b = try DecoderModel(url: compressedFolder, precision: precision, residentWeights: true)
    var comparison = Comparison(
      original: try ModelFacts(model: a, speedTokens: speedTokens),
      compressed: try ModelFacts(model: b, speedTokens: speedTokens))
    comparison.tokenizers = encoders?.tokenizers
    if let encoders {
      for task in tasks {
        let (sa, ra) = try evaluation.score(
          task, model: a, encoder: encoders.original, label: "original ")
        let (sb, rb) = try evaluation.score(
          task, model: b, encoder: encoders.compressed, label: "compressed ")
        try comparison.add(original: sa, ra, compressed: sb, rb)
      }
      if let documents {
        // Both models see the same windows, which their tokenizers (identical, checked above)
        // make alike.
        let (seqLen, stride) = evaluation.windowLength(encoders.original)
        var scorer = TextScorer(model: b, encoder: encoders.original)
        scorer.batchRows = max(evaluation.batchRows, seqLen)
        let progress = Progress("perplexity and divergence windows")
        let (result, divergence) = try scorer.run(
          documents: documents, seqLen: seqLen, stride: stride, reference: a
        ) { done, total in progress.update(done, of: total) }
        comparison.setPerplexity(compressed: result, divergence: divergence)
      }
    }
    if let reportDestination {
      try reportDestination.writing("--report") {
        try comparison.write(to: reportDestination.folder)
      }
    }
    try outputs.commit()
    emit(output.json ? try Format.jsonNumbers(comparison) : comparison.text)
  }
}
