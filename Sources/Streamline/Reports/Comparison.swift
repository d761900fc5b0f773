import Checkpoint
import Evaluation
import Foundation
import Models

/// `streamline compare`: everything needed to decide whether to ship a compressed model.
public struct Comparison: Codable, Sendable {
  public struct TaskRow: Codable, Sendable {
    public var task: String
    public var items: Int
    public var original: TaskReport
    public var compressed: TaskReport
    /// compressed acc / original acc (NaN when the original scores 0).
    public var relativeAcc: Double
    public var relativeAccNorm: Double
    public var stability: StabilityResult

    enum CodingKeys: String, CodingKey {
      case task, items, original, compressed, stability
      case relativeAcc = "relative_acc"
      case relativeAccNorm = "relative_acc_norm"
    }

    public init(original: TaskReport, compressed: TaskReport, stability: StabilityResult) {
      task = original.task
      items = original.items
      self.original = original
      self.compressed = compressed
      relativeAcc = Comparison.relative(compressed.acc, original.acc)
      relativeAccNorm = Comparison.relative(compressed.accNorm, original.accNorm)
      self.stability = stability
    }
  }

  /// Which tokenizer scored each model, said in the text and the JSON.
  public struct TokenizerUse: Codable, Sendable, Equatable {
    /// The tokenizer.json files the original and the compressed model were scored with.
    public var original: String
    public var compressed: String
    /// True when the compressed folder has no tokenizer.json and the original's was used.
    public var compressedBorrowed: Bool
    /// Whether both models tokenize alike (the same tokenizer files), which perplexity and
    /// divergence need: they score both models on one set of windows.
    public var identical: Bool

    enum CodingKeys: String, CodingKey {
      case original, compressed, identical
      case compressedBorrowed = "compressed_borrowed"
    }

    public var text: String {
      "tokenizer  original: \(original); compressed: "
        + (compressedBorrowed
          ? "the original's (the compressed folder has no tokenizer.json)"
          : "\(compressed)\(identical ? " (identical to the original's)" : "")")
    }
  }

  public var original: ModelFacts
  public var compressed: ModelFacts
  public var tokenizers: TokenizerUse?
  public var tasks: [TaskRow]
  public var originalPerplexity: TextPerplexity?
  public var compressedPerplexity: TextPerplexity?
  public var divergence: Divergence?
  /// Every item of the tasks `add` paired, in task order, as each model answered it: the
  /// predictions files `write` puts beside the report (not part of comparison.json).
  public private(set) var originalPredictions: [Prediction] = []
  public private(set) var compressedPredictions: [Prediction] = []

  /// The predictions files of the report folder, one per model.
  public static let originalPredictionsFile = "original.predictions.jsonl"
  public static let compressedPredictionsFile = "compressed.predictions.jsonl"

  enum CodingKeys: String, CodingKey {
    case original, compressed, tasks, divergence, tokenizers
    case originalPerplexity = "original_perplexity"
    case compressedPerplexity = "compressed_perplexity"
  }

  public init(original: ModelFacts, compressed: ModelFacts) {
    self.original = original
    self.compressed = compressed
    tasks = []
  }

  /// The tokenizers the two models are scored with: each folder's own. A compressed folder
  /// without a tokenizer.json is scored with the original's (and `TokenizerUse` says so); one
  /// whose tokenizer cannot be read is refused, naming the file, rather than silently replaced.
  public static func encoders(original: URL, compressed: URL) throws -> (
    original: RequestEncoder, compressed: RequestEncoder, tokenizers: TokenizerUse
  ) {
    let originalFile = original.appendingPathComponent("tokenizer.json")
    let compressedFile = compressed.appendingPathComponent("tokenizer.json")
    let originalEncoder = try RequestEncoder(modelFolder: original)
    guard FileManager.default.fileExists(atPath: compressedFile.path) else {
      let use = TokenizerUse(
        original: originalFile.path, compressed: originalFile.path, compressedBorrowed: true,
        identical: true)
      return (originalEncoder, originalEncoder, use)
    }
    let compressedEncoder: RequestEncoder
    do {
      compressedEncoder = try RequestEncoder(modelFolder: compressed)
    } catch {
      throw EvaluationError.invalid(
        "the compressed model's tokenizer cannot be used (\(compressedFile.path)): \(error)")
    }
    // Alike when every tokenizer file the two folders hold has the same bytes.
    let identical = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
      .allSatisfy {
        FileManager.default.contents(atPath: original.appendingPathComponent($0).path)
          == FileManager.default.contents(atPath: compressed.appendingPathComponent($0).path)
      }
    let use = TokenizerUse(
      original: originalFile.path, compressed: compressedFile.path, compressedBorrowed: false,
      identical: identical)
    return (originalEncoder, compressedEncoder, use)
  }

  /// Pairs both models' scores of one task: its row (accuracies, relative accuracies and
  /// stability) and both models' predictions. The scores must be of the same task and items,
  /// item by item the same label and number of choices; otherwise one line says where they
  /// differ, naming the task file.
  public mutating func add(
    original: TaskScore, _ originalReport: TaskReport, compressed: TaskScore,
    _ compressedReport: TaskReport
  ) throws {
    let file = originalReport.file
    guard original.name == compressed.name else {
      throw EvaluationError.mismatch(
        path: file,
        reason:
          "the original's scores are of task \(original.name), the compressed model's of \(compressed.name)"
      )
    }
    guard !original.items.isEmpty else {
      throw EvaluationError.empty(path: file, reason: "task \(original.name) has no scored items")
    }
    guard original.items.count == compressed.items.count else {
      throw EvaluationError.mismatch(
        path: file,
        reason:
          "task \(original.name): the original scored \(original.items.count) items, the compressed model \(compressed.items.count)"
      )
    }
    for (a, b) in zip(original.items, compressed.items) {
      guard a.index == b.index, a.label == b.label, a.tokens.count == b.tokens.count else {
        throw EvaluationError.mismatch(
          path: file,
          reason:
            "task \(original.name) item \(a.index) has a different index, label or number of choices in the compressed model's scores"
        )
      }
    }
    let a = PredictionsFile.lines([original])
    let b = PredictionsFile.lines([compressed])
    tasks.append(
      TaskRow(
        original: originalReport, compressed: compressedReport,
        stability: StabilityResult(task: original.name, original: a, compressed: b)))
    originalPredictions += a
    compressedPredictions += b
  }

  /// The compressed model's perplexity and its divergence from the original over the same
  /// windows; the original's perplexity is the divergence's reference.
  public mutating func setPerplexity(compressed: TextPerplexity, divergence: Divergence?) {
    compressedPerplexity = compressed
    self.divergence = divergence
    originalPerplexity = divergence?.reference
  }

  public static func relative(_ a: Double, _ b: Double) -> Double { b == 0 ? .nan : a / b }

  /// Mean over tasks of relative accuracy and of stability.
  public var meanRelativeAcc: Double {
    Statistics.mean(tasks.map(\.relativeAcc).filter { !$0.isNaN })
  }
  public var meanStability: Double { Statistics.mean(tasks.map(\.stability.stability)) }

  /// The rows of the side-by-side table: (what, original, compressed, compressed vs original).
  public var rows: [(String, String, String, String)] {
    func pct(_ x: Double) -> String { x.isNaN ? "–" : String(format: "%.2f%%", x * 100) }
    func ratio(_ a: Double, _ b: Double) -> String {
      b == 0 ? "–" : String(format: "×%.3f", a / b)
    }
    var out: [(String, String, String, String)] = [
      (
        "layers", "\(original.layers)", "\(compressed.layers)",
        "\(compressed.layers - original.layers)"
      ),
      (
        "parameters", Format.count(original.parameters), Format.count(compressed.parameters),
        ratio(Double(compressed.parameters), Double(original.parameters))
      ),
      (
        "size on disk", Format.bytes(original.bytesOnDisk), Format.bytes(compressed.bytesOnDisk),
        ratio(Double(compressed.bytesOnDisk), Double(original.bytesOnDisk))
      ),
      (
        "forward tokens/s", String(format: "%.1f", original.tokensPerSecond),
        String(format: "%.1f", compressed.tokensPerSecond),
        ratio(compressed.tokensPerSecond, original.tokensPerSecond)
      ),
    ]
    for row in tasks {
      out.append(
        (
          "\(row.task) acc", pct(row.original.acc), pct(row.compressed.acc),
          "relative " + pct(row.relativeAcc)
        ))
      out.append(
        (
          "\(row.task) acc_norm", pct(row.original.accNorm), pct(row.compressed.accNorm),
          "relative " + pct(row.relativeAccNorm)
        ))
      out.append(
        (
          "\(row.task) stability", "", pct(row.stability.stability),
          "agreement " + pct(row.stability.agreement)
        ))
    }
    if !tasks.isEmpty {
      out.append(("mean relative acc", "", pct(meanRelativeAcc), ""))
      out.append(("mean stability", "", pct(meanStability), ""))
    }
    if let a = originalPerplexity, let b = compressedPerplexity {
      out.append(
        (
          "perplexity", String(format: "%.3f ± %.3f", a.perplexity, a.perplexityStderr),
          String(format: "%.3f ± %.3f", b.perplexity, b.perplexityStderr),
          ratio(b.perplexity, a.perplexity)
        ))
      out.append(
        (
          "bits per byte", String(format: "%.4f", a.bitsPerByte),
          String(format: "%.4f", b.bitsPerByte),
          String(format: "%+.4f", b.bitsPerByte - a.bitsPerByte)
        ))
    }
    if let d = divergence {
      out.append(
        (
          "KL divergence (nats)", "", String(format: "%.5f", d.klMean),
          String(format: "median %.5f · p99 %.5f", d.klMedian, d.klP99)
        ))
      out.append(("top-1 agreement", "", pct(d.top1Agreement), ""))
      out.append(("mean Δp(actual token)", "", String(format: "%+.5f", d.deltaPMean), ""))
    }
    return out
  }

  public var text: String {
    let header = ("", "original", "compressed", "compressed vs original")
    let all = [header] + rows
    let widths = [
      all.map(\.0.count).max()!, all.map(\.1.count).max()!, all.map(\.2.count).max()!,
    ]
    func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: w - s.count) }
    var lines = ["original   \(original.path)", "compressed \(compressed.path)"]
    if let tokenizers { lines.append(tokenizers.text) }
    lines.append("")
    for row in all {
      lines.append(
        pad(row.0, widths[0]) + "  " + pad(row.1, widths[1]) + "  " + pad(row.2, widths[2])
          + "  " + row.3)
    }
    return lines.joined(separator: "\n")
  }

  public var markdown: String {
    var lines = [
      "# Original vs compressed", "",
      "- original: `\(original.path)`", "- compressed: `\(compressed.path)`",
    ]
    if let tokenizers { lines.append("- \(tokenizers.text)") }
    lines += [
      "",
      "| | original | compressed | compressed vs original |", "|---|---|---|---|",
    ]
    for row in rows { lines.append("| \(row.0) | \(row.1) | \(row.2) | \(row.3) |") }
    lines += [
      "",
      "Stability (Chen et al., ICLR 2025): the share of items on which the compressed model is "
        + "right exactly when the original is, each item weighted by the softmax of the spread of "
        + "the original's per-token choice losses. Agreement: same prediction. KL divergence: "
        + "KL(original ‖ compressed) of the next-token distribution per token.",
      "",
    ]
    return lines.joined(separator: "\n")
  }

  /// Grouped bars per task: original acc, compressed acc, stability (0–100%).
  public var chart: String {
    let groups = tasks.map {
      ($0.task, [$0.original.acc, $0.compressed.acc, $0.stability.stability])
    }
    let series = ["original acc", "compressed acc", "stability"]
    let colors = ["#1f77b4", "#ff7f0e", "#2ca02c"]
    let left = 50.0
    let top = 40.0
    let plotHeight = 220.0
    let groupWidth = 90.0
    let width = left + Double(max(1, groups.count)) * groupWidth + 20
    var svg = SVG(width: max(width, 360), height: top + plotHeight + 70)
    svg.text(
      "accuracy and stability per task", x: left, y: 22, size: 14, weight: "bold")
    for tick in stride(from: 0.0, through: 1.0, by: 0.25) {
      let y = top + plotHeight * (1 - tick)
      svg.line(x1: left, y1: y, x2: left + Double(groups.count) * groupWidth, y2: y, stroke: "#ddd")
      svg.text(String(format: "%.0f%%", tick * 100), x: left - 6, y: y + 4, size: 10, anchor: "end")
    }
    for (g, group) in groups.enumerated() {
      let x0 = left + Double(g) * groupWidth + 12
      for (k, value) in group.1.enumerated() {
        let h = plotHeight * min(1, max(0, value.isNaN ? 0 : value))
        svg.rect(
          x: x0 + Double(k) * 22, y: top + plotHeight - h, width: 20, height: h, fill: colors[k],
          title: "\(group.0) \(series[k]): \(String(format: "%.2f%%", value * 100))")
      }
      svg.text(group.0, x: x0 + 33, y: top + plotHeight + 16, size: 11, anchor: "middle")
    }
    for (k, name) in series.enumerated() {
      let x = left + Double(k) * 120
      svg.rect(x: x, y: top + plotHeight + 34, width: 12, height: 12, fill: colors[k])
      svg.text(name, x: x + 16, y: top + plotHeight + 44, size: 11)
    }
    return svg.document
  }

  /// The files `write` makes.
  public static let files: Set<String> = [
    "comparison.json", "comparison.md", "comparison.svg", originalPredictionsFile,
    compressedPredictionsFile,
  ]

  /// comparison.json, comparison.md and comparison.svg in `folder`, and with the tasks `add`
  /// paired both models' predictions files: the report folder's files, written into it as an
  /// `OutputFolder` that is committed whole.
  public func write(to folder: URL) throws {
    var files = [
      (name: "comparison.json", data: Data(try Format.jsonNumbers(self).utf8)),
      ("comparison.md", Data(markdown.utf8)),
      ("comparison.svg", Data(chart.utf8)),
    ]
    if !originalPredictions.isEmpty {
      files.append((Self.originalPredictionsFile, try PredictionsFile.data(originalPredictions)))
      files.append(
        (Self.compressedPredictionsFile, try PredictionsFile.data(compressedPredictions)))
    }
    try OutputFolder.write(files, into: folder)
  }
}

extension Format {
  /// `json`: NaN and infinities (e.g. a standard error of one item) are written as null, as
  /// everywhere else (they were the strings "nan", "inf" and "-inf", which a reader expecting
  /// numbers chokes on).
  public static func jsonNumbers<T: Encodable>(_ value: T) throws -> String {
    try json(value)
  }
}
