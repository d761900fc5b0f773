import Foundation
import Models

/// The scores of one multiple-choice item.
public struct ItemScore: Sendable, Equatable {
  public var index: Int
  public var label: Int
  /// Summed log-likelihood of each choice's continuation tokens (nats).
  public var loglikelihoods: [Double]
  /// Number of continuation tokens of each choice.
  public var tokens: [Int]
  /// Length in Unicode scalars of each `doc_to_choice` string (`acc_norm`'s divisor).
  public var lengths: [Int]

  public init(index: Int, label: Int, loglikelihoods: [Double], tokens: [Int], lengths: [Int]) {
    self.index = index
    self.label = label
    self.loglikelihoods = loglikelihoods
    self.tokens = tokens
    self.lengths = lengths
  }

  /// `argmax(lls)`; the first maximum on ties, as NumPy.
  public var prediction: Int { Self.argmax(loglikelihoods) }
  /// `argmax(lls / len(choice))`.
  public var predictionNorm: Int {
    Self.argmax(zip(loglikelihoods, lengths).map { $0 / Double($1) })
  }
  public var correct: Bool { prediction == label }
  public var correctNorm: Bool { predictionNorm == label }

  static func argmax(_ values: [Double]) -> Int {
    var best = 0
    for (i, v) in values.enumerated() where v > values[best] { best = i }
    return best
  }
}

/// Accuracies of a task, lm-eval's way: means with the standard error of the mean
/// (sample standard deviation / √n).
public struct TaskScore: Sendable {
  public var name: String
  public var items: [ItemScore]
  public var contexts: [String]
  public var choices: [[String]]

  public var acc: Double { Statistics.mean(items.map { $0.correct ? 1 : 0 }) }
  public var accStderr: Double { Statistics.meanStderr(items.map { $0.correct ? 1 : 0 }) }
  public var accNorm: Double { Statistics.mean(items.map { $0.correctNorm ? 1 : 0 }) }
  public var accNormStderr: Double {
    Statistics.meanStderr(items.map { $0.correctNorm ? 1 : 0 })
  }
}

public enum Statistics {
  public static func mean(_ values: [Double]) -> Double {
    values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
  }

  /// lm-eval's `mean_stderr`: sample standard deviation (n − 1) over √n.
  public static func meanStderr(_ values: [Double]) -> Double {
    let n = Double(values.count)
    guard values.count > 1 else { return .nan }
    let m = mean(values)
    let variance = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1)
    return (variance / n).squareRoot()
  }

  /// NumPy's default (linear) percentile, `q` in 0...100.
  public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let position = q / 100 * Double(sorted.count - 1)
    let lower = Int(position.rounded(.down))
    let upper = min(lower + 1, sorted.count - 1)
    let fraction = position - Double(lower)
    return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
  }
}

/// Multiple-choice scoring with lm-eval 0.4's Hugging Face backend semantics, computing each
/// shared context once: the context is one sequence and every choice continues it (`prefixes`
/// in `DecoderModel.forward`), many items to a forward.
public struct MultipleChoiceScorer {
  public let model: DecoderModel
  /// Needed to score task files; token-level scoring needs only `maxLength`.
  public let encoder: RequestEncoder?
  /// lm-eval's `max_length`: longer inputs lose tokens on the left.
  public var maxLength: Int
  /// Rows per forward (contexts plus continuations).
  public var batchRows = 2048
  /// When false every choice is scored as its own full sequence (for speed comparisons).
  public var shareContext = true

  public init(model: DecoderModel, encoder: RequestEncoder) {
    self.model = model
    self.encoder = encoder
    maxLength = encoder.maxLength
  }

  /// A scorer of token pairs, without a tokenizer (benchmarks).
  public init(model: DecoderModel, maxLength: Int) {
    self.model = model
    encoder = nil
    self.maxLength = maxLength
  }

  /// One forward sequence: a context, or a continuation of sequence `prefix` (an index within
  /// the unit), or a standalone input scoring its last `scored` rows.
  struct Unit {
    /// Sequences of this unit: the context first, then continuations.
    var sequences: [[Int]]
    var prefixes: [Int?]
    /// For each choice: (sequence index, first row, targets): the logits of `sequence` rows
    /// `firstRow...` predict `targets`; the first target of a shared choice is predicted by the
    /// context's last row instead, recorded as sequence 0's row `count - 1`.
    var scores: [(item: Int, choice: Int, parts: [(sequence: Int, row: Int, token: Int)])]
    var rows: Int { sequences.reduce(0) { $0 + $1.count } }
  }

  /// Scores every item of `task`; `progress(itemsDone, itemsTotal)`.
  public func score(
    _ task: TaskFile, limit: Int? = nil, progress: ((Int, Int) -> Void)? = nil
  ) throws -> TaskScore {
    guard let encoder else { preconditionFailure("scoring a task file needs a tokenizer") }
    let items = Array(task.items.prefix(limit ?? task.items.count))
    var encoded: [[(context: [Int], continuation: [Int])]] = []
    for item in items {
      var pairs: [(context: [Int], continuation: [Int])] = []
      for (c, request) in item.requests.enumerated() {
        let pair = try encoder.encodePair(
          context: request.context, continuation: request.continuation)
        guard !pair.continuation.isEmpty else {
          throw EvaluationError.badLine(
            path: task.path, line: item.line,
            reason: "choice \(c + 1) encodes to no continuation tokens")
        }
        pairs.append(pair)
      }
      encoded.append(pairs)
    }
    let loglikelihoods = try score(tokens: encoded, progress: progress)
    let scores = items.enumerated().map { i, item in
      ItemScore(
        index: item.index, label: item.label, loglikelihoods: loglikelihoods[i],
        tokens: encoded[i].map(\.continuation.count),
        lengths: item.choices.map { $0.unicodeScalars.count })
    }
    return TaskScore(
      name: task.name, items: scores, contexts: items.map { $0.requests.first?.context ?? "" },
      choices: items.map { $0.requests.map(\.continuation) })
  }

  /// Summed log-likelihood of every (context, continuation) pair of every item; continuations
  /// must not be empty.
  public func score(
    tokens items: [[(context: [Int], continuation: [Int])]],
    progress: ((Int, Int) -> Void)? = nil
  ) throws -> [[Double]] {
    var units: [Unit] = []
    for (i, pairs) in items.enumerated() {
      if pairs.contains(where: { $0.continuation.isEmpty || $0.context.isEmpty }) {
        throw EvaluationError.invalid("item \(i + 1) has an empty context or continuation")
      }
      units += makeUnits(item: i, pairs: pairs)
    }
    var loglikelihoods: [[Double]] = items.map { Array(repeating: 0, count: $0.count) }
    let vocabulary = model.config.vocabSize
    var done = 0
    // Similar lengths together; order only affects speed.
    let order = units.indices.sorted { units[$0].rows > units[$1].rows }
    var batchStart = 0
    while batchStart < order.count {
      var batchEnd = batchStart
      var rows = 0
      while batchEnd < order.count
        && (batchEnd == batchStart || rows + units[order[batchEnd]].rows <= batchRows)
      {
        rows += units[order[batchEnd]].rows
        batchEnd += 1
      }
      let batchUnits = order[batchStart..<batchEnd].map { units[$0] }
      var sequences: [[Int]] = []
      var prefixes: [Int?] = []
      var firstSequence: [Int] = []
      // Wanted (row, token) lookups per global sequence, and where each result goes.
      var wanted: [[(row: Int, token: Int, item: Int, choice: Int)]] = []
      for unit in batchUnits {
        let base = sequences.count
        firstSequence.append(base)
        sequences += unit.sequences
        prefixes += unit.prefixes.map { $0.map { $0 + base } }
        wanted += Array(repeating: [], count: unit.sequences.count)
        for score in unit.scores {
          for part in score.parts {
            wanted[base + part.sequence].append(
              (part.row, part.token, score.item, score.choice))
          }
        }
      }
      try model.forward(
        sequences, prefixes: prefixes.contains { $0 != nil } ? prefixes : nil,
        logits: { s, logits, length in
          let lookups = wanted[s]
          guard !lookups.isEmpty else { return }
          var values = [Double](repeating: 0, count: lookups.count)
          // Rows in order; one normaliser per distinct row.
          var cache: [Int: Double] = [:]
          for (k, lookup) in lookups.enumerated() {
            let row = logits + lookup.row * vocabulary
            let normaliser =
              cache[lookup.row]
              ?? {
                let n = LogSoftmax.logSumExp(row, count: vocabulary)
                cache[lookup.row] = n
                return n
              }()
            values[k] = Double(row[lookup.token]) - normaliser
          }
          for (k, lookup) in lookups.enumerated() {
            loglikelihoods[lookup.item][lookup.choice] += values[k]
          }
          _ = length
        })
      done += batchUnits.count
      progress?(min(items.count, done * items.count / max(1, units.count)), items.count)
      batchStart = batchEnd
    }
    return loglikelihoods
  }

  /// Groups an item's choices by identical context tokens (all of them, except winogrande's
  /// two contexts); a choice whose input exceeds `maxLength` is truncated on the left as
  /// lm-eval does and scored on its own.
  func makeUnits(item: Int, pairs: [(context: [Int], continuation: [Int])]) -> [Unit] {
    var units: [Unit] = []
    var unitOfContext: [[Int]: Int] = [:]
    for (c, pair) in pairs.enumerated() {
      let total = pair.context.count + pair.continuation.count
      if !shareContext || total - 1 > maxLength {
        // lm-eval: inp = (context + continuation)[-(max_length + 1):][:-1]
        let whole = Array((pair.context + pair.continuation).suffix(maxLength + 1))
        let input = Array(whole.dropLast())
        let n = pair.continuation.count
        let parts = (0..<n).compactMap { k -> (sequence: Int, row: Int, token: Int)? in
          let row = input.count - n + k
          return row >= 0 ? (0, row, pair.continuation[k]) : nil
        }
        units.append(Unit(sequences: [input], prefixes: [nil], scores: [(item, c, parts)]))
        continue
      }
      let u: Int
      if let existing = unitOfContext[pair.context] {
        u = existing
      } else {
        u = units.count
        unitOfContext[pair.context] = u
        units.append(Unit(sequences: [pair.context], prefixes: [nil], scores: []))
      }
      // The whole continuation is fed (its last row's logits go unused) so that a one-token
      // continuation still forms a sequence.
      let s = units[u].sequences.count
      units[u].sequences.append(pair.continuation)
      units[u].prefixes.append(0)
      var parts: [(sequence: Int, row: Int, token: Int)] = [
        (0, pair.context.count - 1, pair.continuation[0])
      ]
      for k in 1..<pair.continuation.count {
        parts.append((s, k - 1, pair.continuation[k]))
      }
      units[u].scores.append((item, c, parts))
    }
    return units
  }
}
