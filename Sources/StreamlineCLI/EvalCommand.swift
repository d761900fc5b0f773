import ArgumentParser
import Checkpoint
import Evaluation
import Foundation
import Models
import Streamline
import Tensors

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

  /// Library errors are worded with this command's flags here, where the command runs.
  func run() throws {
    try ErrorWording.wording { try execute() }
  }

  func execute() throws {
    var request = EvaluationRequest(model: model.model)
    request.precision = model.precision.announced
    request.tokenIds = tokenIds
    request.inputs = evaluation.inputs
    request.reference = reference
    request.predictions = predictions
    request.referenceName = "the --reference model folder"
    request.tokenIdsName = "the --token-ids file"
    let full = try EvaluationJob.run(request)

    // --token-ids alone keeps its original output.
    if let report = full.tokenIds, evaluation.perplexity == nil, evaluation.tasks.isEmpty {
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
  static func refuseNonFinite(_ full: EvaluationResult) throws {
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
