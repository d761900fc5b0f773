import ArgumentParser
import Checkpoint
import Evaluation
import Foundation
import Models
import Streamline
import Tensors

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

  /// The library's inputs the flags make.
  var inputs: EvaluationInputs {
    var inputs = EvaluationInputs()
    inputs.tasks = tasks
    inputs.format = format
    inputs.limit = limit
    inputs.perplexity = perplexity
    inputs.seqLen = seqLen
    inputs.stride = stride
    inputs.textField = textField
    inputs.batchRows = batchRows
    inputs.shareContext = !noSharedContext
    inputs.taskName = "the --task file"
    inputs.perplexityName = "the --perplexity file"
    return inputs
  }
}
