import Checkpoint
import Foundation

/// One line of a predictions file: an item's every choice log-likelihood, the prediction, the
/// label and correctness. `streamline stability` compares two such files.
public struct Prediction: Codable, Sendable, Equatable {
  public var task: String
  public var index: Int
  public var label: Int
  public var prediction: Int
  public var correct: Bool
  public var loglikelihoods: [Double]
  /// Continuation tokens of each choice (the per-token mean NLL divides by them).
  public var tokens: [Int]
  public var predictionNorm: Int?
  public var correctNorm: Bool?
  public var context: String?
  public var choices: [String]?

  enum CodingKeys: String, CodingKey {
    case task, index, label, prediction, correct, loglikelihoods, tokens, context, choices
    case predictionNorm = "prediction_norm"
    case correctNorm = "correct_norm"
  }

  public init(task: String, score: ItemScore, context: String?, choices: [String]?) {
    self.task = task
    index = score.index
    label = score.label
    prediction = score.prediction
    correct = score.correct
    loglikelihoods = score.loglikelihoods
    tokens = score.tokens
    predictionNorm = score.predictionNorm
    correctNorm = score.correctNorm
    self.context = context
    self.choices = choices
  }
}

public enum PredictionsFile {
  /// The lines of `scores`, in task order.
  public static func lines(_ scores: [TaskScore]) -> [Prediction] {
    scores.flatMap { task in
      task.items.enumerated().map { i, item in
        Prediction(
          task: task.name, score: item, context: task.contexts[i], choices: task.choices[i])
      }
    }
  }

  /// The JSONL bytes of `predictions`.
  public static func data(_ predictions: [Prediction]) throws -> Data {
    var data = Data()
    for p in predictions {
      data += try JSONOutput.encode(p, formatting: [.sortedKeys, .withoutEscapingSlashes])
      data += Data("\n".utf8)
    }
    return data
  }

  /// Writes JSONL atomically (a temporary file beside the target, then a rename); the path is
  /// the caller's to check (`OutputPolicy.file`).
  public static func write(_ predictions: [Prediction], path: String) throws {
    try AtomicFile.write(try data(predictions), to: URL(fileURLWithPath: path))
  }

  public static func read(path: String) throws -> [Prediction] {
    try InputFile.requireRegular(path)
    guard let data = FileManager.default.contents(atPath: path) else {
      throw EvaluationError.cannotRead(path: path, reason: "cannot read the file")
    }
    let decoder = JSONDecoder()
    var out: [Prediction] = []
    // An item is its task and index; a second record of one would count it twice in stability.
    var firstLine: [String: [Int: Int]] = [:]
    for (number, line) in data.split(
      separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false
    )
    .enumerated() {
      if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
      let p: Prediction
      do {
        p = try decoder.decode(Prediction.self, from: Data(line))
      } catch {
        throw EvaluationError.badLine(
          path: path, line: number + 1, reason: "not a predictions record: \(Self.reason(error))")
      }
      guard p.loglikelihoods.count == p.tokens.count, !p.tokens.isEmpty,
        p.label >= 0 && p.label < p.tokens.count, p.tokens.allSatisfy({ $0 > 0 })
      else {
        throw EvaluationError.badLine(
          path: path, line: number + 1,
          reason: "loglikelihoods, tokens and label disagree on the number of choices")
      }
      if let first = firstLine[p.task]?[p.index] {
        throw EvaluationError.badLine(
          path: path, line: number + 1,
          reason: "item \(p.index) of task \(p.task) is also on line \(first); each item once")
      }
      firstLine[p.task, default: [:]][p.index] = number + 1
      out.append(p)
    }
    guard !out.isEmpty else { throw EvaluationError.empty(path: path, reason: "holds no records") }
    return out
  }

  static func reason(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, _): return "missing field \"\(key.stringValue)\""
    case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
      let path = context.codingPath.map(\.stringValue).joined(separator: ".")
      return "field \"\(path)\" has the wrong type"
    default: return "not valid JSON"
    }
  }
}

/// The paper's stability of a compressed model against the original on one task, with plain
/// agreement and both accuracies.
public struct StabilityResult: Codable, Sendable, Equatable {
  public var task: String
  public var items: Int
  /// Σ_j w_j · [compressed right ⇔ original right], w = softmax over items of the population
  /// standard deviation of the original's per-token mean choice NLLs.
  public var stability: Double
  /// Fraction of items with the same prediction.
  public var agreement: Double
  /// Fraction of items where both are right or both wrong (unweighted stability).
  public var consistent: Double
  public var originalAcc: Double
  public var compressedAcc: Double

  enum CodingKeys: String, CodingKey {
    case task, items, stability, agreement, consistent
    case originalAcc = "original_acc"
    case compressedAcc = "compressed_acc"
  }

  public init(task: String, original: [Prediction], compressed: [Prediction]) {
    precondition(original.count == compressed.count && !original.isEmpty)
    self.task = task
    items = original.count
    let spreads = original.map { p -> Double in
      let nlls = zip(p.loglikelihoods, p.tokens).map { -$0 / Double($1) }
      let mean = nlls.reduce(0, +) / Double(nlls.count)
      return (nlls.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(nlls.count)).squareRoot()
    }
    let top = spreads.max()!
    let exps = spreads.map { exp($0 - top) }
    let total = exps.reduce(0, +)
    var stability = 0.0
    var consistent = 0
    var agree = 0
    for j in 0..<original.count {
      let same = original[j].correct == compressed[j].correct
      if same {
        stability += exps[j] / total
        consistent += 1
      }
      if original[j].prediction == compressed[j].prediction { agree += 1 }
    }
    self.stability = stability
    self.consistent = Double(consistent) / Double(items)
    agreement = Double(agree) / Double(items)
    originalAcc = Double(original.filter(\.correct).count) / Double(items)
    compressedAcc = Double(compressed.filter(\.correct).count) / Double(items)
  }

  /// Per task, in the order tasks first appear in the original's file. Every item must be in
  /// both files with the same label and number of choices.
  public static func compare(
    original: [Prediction], originalPath: String, compressed: [Prediction],
    compressedPath: String
  ) throws -> [StabilityResult] {
    var byKey: [String: [Int: Prediction]] = [:]
    for p in compressed { byKey[p.task, default: [:]][p.index] = p }
    var order: [String] = []
    var pairs: [String: ([Prediction], [Prediction])] = [:]
    for p in original {
      guard let q = byKey[p.task]?[p.index] else {
        throw EvaluationError.mismatch(
          path: compressedPath, reason: "has no record for task \(p.task) item \(p.index)")
      }
      guard q.label == p.label, q.tokens.count == p.tokens.count else {
        throw EvaluationError.mismatch(
          path: compressedPath,
          reason: "task \(p.task) item \(p.index) has a different label or number of choices "
            + "than in \(originalPath)")
      }
      if pairs[p.task] == nil { order.append(p.task) }
      pairs[p.task, default: ([], [])].0.append(p)
      pairs[p.task, default: ([], [])].1.append(q)
    }
    let counted = Set(original.map { "\($0.task)\u{0}\($0.index)" })
    if let extra = compressed.first(where: { !counted.contains("\($0.task)\u{0}\($0.index)") }) {
      throw EvaluationError.mismatch(
        path: originalPath, reason: "has no record for task \(extra.task) item \(extra.index)")
    }
    return order.map { StabilityResult(task: $0, original: pairs[$0]!.0, compressed: pairs[$0]!.1) }
  }
}
