import Checkpoint
import Evaluation
import Foundation
import Models
import Tensors

/// What a model is scored on, shared by `EvaluationJob` and `ComparisonJob`: multiple-choice
/// task files and text for perplexity, and how they are cut and batched.
public struct EvaluationInputs {
  /// Multiple-choice task files (JSONL), in the layout `format` names or detected.
  public var tasks: [String] = []
  public var format: TaskFormat?
  /// Score only the first `limit` items of each task.
  public var limit: Int?
  /// Text for perplexity: .txt (one document) or .jsonl (a text field per line).
  public var perplexity: String?
  /// Window length (nil: the model's context, at most 2048) and stride (nil: the length).
  public var seqLen: Int?
  public var stride: Int?
  public var textField: String?
  /// Rows (tokens) per forward.
  public var batchRows = 2048
  /// Score the choices of an item over their shared context once (lm-eval's results, faster).
  public var shareContext = true
  /// What refusals call each input file.
  public var taskName = "the task file"
  public var perplexityName = "the perplexity text"

  public init() {}

  /// The task and text files, as inputs no output may overwrite.
  public func addInputs(to policy: inout OutputPolicy) {
    for task in tasks { policy.add(task, as: taskName) }
    policy.add(perplexity, as: perplexityName)
  }

  public func readTasks() throws -> [TaskFile] {
    try tasks.map { try TaskFile.read(path: $0, format: format) }
  }

  /// The perplexity text's documents, nil without one.
  public func readDocuments() throws -> [String]? {
    try perplexity.map { try TextFile.read(path: $0, field: textField) }
  }

  /// Scores one task, timed; `label` starts its progress line.
  public func score(
    _ task: TaskFile, model: DecoderModel, encoder: RequestEncoder, label: String,
    progress: (String, String) -> Progress
  ) throws -> (TaskScore, TaskReport) {
    var scorer = MultipleChoiceScorer(model: model, encoder: encoder)
    scorer.batchRows = batchRows
    scorer.shareContext = shareContext
    let shown = progress("\(label)\(task.name)", "items")
    let start = Date()
    let score = try scorer.score(task, limit: limit) { done, total in
      shown.update(done, of: total, amount: Double(done))
    }
    let report = TaskReport(score, file: task.path, seconds: Date().timeIntervalSince(start))
    return (score, report)
  }

  /// The perplexity windows' length and stride for `encoder`'s model.
  public func windowLength(_ encoder: RequestEncoder) -> (Int, Int) {
    let length = seqLen ?? min(encoder.maxLength, 2048)
    return (length, stride ?? length)
  }

  /// Perplexity of `documents` under `model` and, with `reference`, the divergence from it, in
  /// one pass over both.
  func perplexity(
    _ documents: [String], model: DecoderModel, encoder: RequestEncoder,
    reference: DecoderModel?, progress: Progress
  ) throws -> (TextPerplexity, Divergence?) {
    let (seqLen, stride) = windowLength(encoder)
    var scorer = TextScorer(model: model, encoder: encoder)
    scorer.batchRows = max(batchRows, seqLen)
    return try scorer.run(
      documents: documents, seqLen: seqLen, stride: stride, reference: reference
    ) { done, total in progress.update(done, of: total) }
  }
}
