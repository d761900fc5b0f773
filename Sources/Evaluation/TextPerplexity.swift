import Checkpoint
import Foundation
import Models

/// Documents of text for perplexity: a `.txt` file is one document; a `.jsonl` file holds one
/// per line, a JSON string or an object with a `text` (or `page`, `content`) field.
public enum TextFile {
  public static func read(path: String, field: String? = nil) throws -> [String] {
    try InputFile.requireRegular(path)
    guard let data = FileManager.default.contents(atPath: path) else {
      throw EvaluationError.cannotRead(path: path, reason: "cannot read the file")
    }
    return try parse(data, path: path, field: field)
  }

  /// The documents of `data`, the contents of the file at `path`: its extension (.jsonl or
  /// .json), or `jsonl` when given, says whether it holds one JSON document per line or is one
  /// plain-text document.
  public static func parse(
    _ data: Data, path: String, field: String? = nil, jsonl: Bool? = nil
  ) throws -> [String] {
    guard let text = String(data: data, encoding: .utf8) else {
      throw EvaluationError.cannotRead(path: path, reason: "not UTF-8 text")
    }
    guard jsonl ?? (path.hasSuffix(".jsonl") || path.hasSuffix(".json")) else {
      guard !text.isEmpty else { throw EvaluationError.empty(path: path, reason: "is empty") }
      return [text]
    }
    var documents: [String] = []
    let fields = field.map { [$0] } ?? ["text", "page", "content"]
    for (number, line) in TextLines.split(text).enumerated() {
      if line.allSatisfy(\.isWhitespace) { continue }
      let parsed: Any
      do {
        parsed = try JSONSerialization.jsonObject(
          with: Data(line.utf8), options: [.fragmentsAllowed])
      } catch {
        throw EvaluationError.badLine(path: path, line: number + 1, reason: "not valid JSON")
      }
      if let s = parsed as? String {
        documents.append(s)
      } else if let o = parsed as? [String: Any],
        let s = fields.lazy.compactMap({ o[$0] as? String }).first
      {
        documents.append(s)
      } else {
        throw EvaluationError.badLine(
          path: path, line: number + 1,
          reason: "expected a JSON string or an object with a string field "
            + fields.map { "\"\($0)\"" }.joined(separator: " or "))
      }
    }
    guard !documents.isEmpty else {
      throw EvaluationError.empty(path: path, reason: "holds no documents")
    }
    return documents
  }
}

/// One scoring window: the model reads `input` and its last `targets.count` rows predict
/// `targets`.
public struct TextWindow: Sendable, Equatable {
  public var document: Int
  public var input: [Int]
  public var targets: [Int]

  public init(document: Int = 0, input: [Int], targets: [Int]) {
    self.document = document
    self.input = input
    self.targets = targets
  }

  /// A calibration sequence scored whole: every token but the first is a target.
  public init(wholeSequence tokens: [Int], document: Int = 0) {
    self.init(
      document: document, input: Array(tokens.dropLast()), targets: Array(tokens.dropFirst()))
  }
}

/// lm-eval's rolling windows (`get_rolling_token_windows` + `make_disjoint_window`): the first
/// window predicts the first `seqLen` tokens after the prefix token, each later one the next
/// `stride` tokens with as much preceding text as fits in `seqLen`. With `stride == seqLen`
/// this is exactly lm-eval's `loglikelihood_rolling` (wikitext).
public enum RollingWindows {
  public static func make(
    tokens: [Int], prefixToken: Int, seqLen: Int, stride: Int, document: Int = 0
  ) -> [TextWindow] {
    precondition(seqLen >= 1 && stride >= 1 && stride <= seqLen)
    guard !tokens.isEmpty else { return [] }
    var out: [TextWindow] = []
    let first = min(seqLen, tokens.count)
    out.append(
      TextWindow(
        document: document, input: [prefixToken] + tokens[..<(first - 1)],
        targets: Array(tokens[..<first])))
    var predicted = first
    while predicted < tokens.count {
      let count = min(tokens.count - predicted, stride)
      let end = predicted + count
      // input = token_list[end - seqLen - 1 : end - 1], made disjoint from the targets.
      let start = max(0, end - seqLen - 1)
      out.append(
        TextWindow(
          document: document, input: Array(tokens[start..<(end - 1)]),
          targets: Array(tokens[(end - count)..<end])))
      predicted += count
    }
    return out
  }
}

/// Perplexity over documents: token perplexity with its standard error, and lm-eval's
/// word perplexity, byte perplexity and bits per byte (words and bytes of the raw text).
public struct TextPerplexity: Codable, Sendable, Equatable {
  public var documents: Int
  public var seqLen: Int
  public var stride: Int
  public var tokens: Int
  /// Mean NLL per predicted token (nats) and its standard error.
  public var nll: Double
  public var nllStderr: Double
  public var perplexity: Double
  public var perplexityStderr: Double
  public var words: Int
  public var bytes: Int
  public var wordPerplexity: Double
  public var bytePerplexity: Double
  public var bitsPerByte: Double

  enum CodingKeys: String, CodingKey {
    case documents, tokens, nll, perplexity, words, bytes
    case seqLen = "seq_len"
    case stride
    case nllStderr = "nll_stderr"
    case perplexityStderr = "perplexity_stderr"
    case wordPerplexity = "word_perplexity"
    case bytePerplexity = "byte_perplexity"
    case bitsPerByte = "bits_per_byte"
  }

  public init(nlls: [Double], documents: [String], seqLen: Int, stride: Int) {
    self.documents = documents.count
    self.seqLen = seqLen
    self.stride = stride
    tokens = nlls.count
    let n = Double(nlls.count)
    let total = nlls.reduce(0, +)
    nll = total / n
    let meanSquare = nlls.reduce(0) { $0 + $1 * $1 } / n
    nllStderr = nlls.count > 1 ? max(0, (meanSquare - nll * nll) / (n - 1)).squareRoot() : .nan
    perplexity = exp(nll)
    perplexityStderr = perplexity * nllStderr
    words = documents.reduce(0) { $0 + Text.wordCount($1) }
    bytes = documents.reduce(0) { $0 + $1.utf8.count }
    wordPerplexity = exp(total / Double(words))
    bytePerplexity = exp(total / Double(bytes))
    bitsPerByte = total / Double(bytes) / log(2)
  }

  public var text: String {
    String(
      format:
        "perplexity %.4f ± %.4f (nll %.6f ± %.6f nats/token, %d tokens in %d documents, "
        + "seq-len %d, stride %d)\nword perplexity %.4f · byte perplexity %.6f · bits per byte %.6f",
      perplexity, perplexityStderr, nll, nllStderr, tokens, documents, seqLen, stride,
      wordPerplexity, bytePerplexity, bitsPerByte)
  }
}

/// How far a model's next-token distribution moved from a reference model's, over the tokens
/// of the perplexity windows: KL(reference ‖ model), top-1 agreement and the mean change in the
/// probability of the actual next token.
public struct Divergence: Codable, Sendable, Equatable {
  public var tokens: Int
  public var klMean: Double
  public var klMedian: Double
  public var klP99: Double
  public var top1Agreement: Double
  public var deltaPMean: Double
  /// The reference model's perplexity over the same windows.
  public var reference: TextPerplexity

  enum CodingKeys: String, CodingKey {
    case tokens, reference
    case klMean = "kl_mean"
    case klMedian = "kl_median"
    case klP99 = "kl_p99"
    case top1Agreement = "top1_agreement"
    case deltaPMean = "delta_p_mean"
  }

  public var text: String {
    String(
      format:
        "KL divergence from the reference: mean %.6f · median %.6f · p99 %.6f nats\n"
        + "top-1 agreement %.2f%% · mean Δp(actual token) %+.6f · reference perplexity %.4f",
      klMean, klMedian, klP99, top1Agreement * 100, deltaPMean, reference.perplexity)
  }
}

/// Scores text windows with a model, and optionally against a reference model in the same pass:
/// each batch of windows goes through the reference first (its log-probabilities of the
/// scored rows kept in memory for that batch only), then through the model.
public struct TextScorer {
  public let model: DecoderModel
  public let encoder: RequestEncoder
  /// Rows per forward; bounded further so a batch's kept log-probabilities stay under 256 MiB.
  public var batchRows = 4096

  public init(model: DecoderModel, encoder: RequestEncoder) {
    self.model = model
    self.encoder = encoder
  }

  public func windows(documents: [String], seqLen: Int, stride: Int) throws -> [TextWindow] {
    guard seqLen >= 1 else { throw EvaluationError.windowLength(seqLen) }
    guard stride >= 1 && stride <= seqLen else {
      throw EvaluationError.windowStride(stride: stride, seqLen: seqLen)
    }
    var out: [TextWindow] = []
    for (d, document) in documents.enumerated() {
      out += RollingWindows.make(
        tokens: try encoder.encode(document), prefixToken: encoder.prefixTokenId,
        seqLen: seqLen, stride: stride, document: d)
    }
    return out
  }

  /// Perplexity of `documents`; with `reference`, also the divergence from it.
  public func run(
    documents: [String], seqLen: Int, stride: Int, reference: DecoderModel? = nil,
    progress: ((Int, Int) -> Void)? = nil
  ) throws -> (TextPerplexity, Divergence?) {
    let windows = try self.windows(documents: documents, seqLen: seqLen, stride: stride)
    let vocabulary = model.config.vocabSize
    if let reference, reference.config.vocabSize != vocabulary {
      throw EvaluationError.mismatch(
        path: reference.folder?.url.path ?? "reference",
        reason:
          "vocabulary of \(reference.config.vocabSize) tokens differs from the model's \(vocabulary)"
      )
    }
    var nlls: [Double] = []
    var referenceNLLs: [Double] = []
    var kls: [Double] = []
    var agree = 0
    var deltaP = 0.0
    let rowLimit =
      reference == nil ? batchRows : max(seqLen, min(batchRows, (1 << 26) / vocabulary))
    var start = 0
    while start < windows.count {
      var end = start
      var rows = 0
      while end < windows.count && (end == start || rows + windows[end].input.count <= rowLimit) {
        rows += windows[end].input.count
        end += 1
      }
      let batch = Array(windows[start..<end])
      let inputs = batch.map(\.input)
      // Offsets of each window's scored rows in the kept reference buffer.
      var offsets: [Int] = []
      var scoredRows = 0
      for w in batch {
        offsets.append(scoredRows)
        scoredRows += w.targets.count
      }
      var kept: UnsafeMutablePointer<Float>?
      defer { kept?.deallocate() }
      if let reference {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: scoredRows * vocabulary)
        kept = buffer
        try reference.forward(
          inputs,
          logits: { s, logits, length in
            let w = batch[s]
            let first = length - w.targets.count
            var rowNLL = [Double](repeating: 0, count: w.targets.count)
            rowNLL.withUnsafeMutableBufferPointer { nll in
              DispatchQueue.concurrentPerform(iterations: w.targets.count) { k in
                let row = logits + (first + k) * vocabulary
                let normaliser = LogSoftmax.logSumExp(row, count: vocabulary)
                let out = buffer + (offsets[s] + k) * vocabulary
                for v in 0..<vocabulary { out[v] = Float(Double(row[v]) - normaliser) }
                nll[k] = normaliser - Double(row[w.targets[k]])
              }
            }
            referenceNLLs += rowNLL
          })
      }
      try model.forward(
        inputs,
        logits: { s, logits, length in
          let w = batch[s]
          let first = length - w.targets.count
          var rowNLL = [Double](repeating: 0, count: w.targets.count)
          var rowKL = [Double](repeating: 0, count: w.targets.count)
          var rowAgree = [Bool](repeating: false, count: w.targets.count)
          var rowDelta = [Double](repeating: 0, count: w.targets.count)
          rowNLL.withUnsafeMutableBufferPointer { nll in
            rowKL.withUnsafeMutableBufferPointer { kl in
              rowAgree.withUnsafeMutableBufferPointer { agreeRow in
                rowDelta.withUnsafeMutableBufferPointer { delta in
                  DispatchQueue.concurrentPerform(iterations: w.targets.count) { k in
                    let row = logits + (first + k) * vocabulary
                    let normaliser = LogSoftmax.logSumExp(row, count: vocabulary)
                    let target = w.targets[k]
                    let logP = Double(row[target]) - normaliser
                    nll[k] = -logP
                    guard let kept else { return }
                    let ref = kept + (offsets[s] + k) * vocabulary
                    var sum = 0.0
                    var bestRef = 0
                    var bestModel = 0
                    for v in 0..<vocabulary {
                      let lr = Double(ref[v])
                      sum += exp(lr) * (lr - (Double(row[v]) - normaliser))
                      if ref[v] > ref[bestRef] { bestRef = v }
                      if row[v] > row[bestModel] { bestModel = v }
                    }
                    kl[k] = sum
                    agreeRow[k] = bestRef == bestModel
                    delta[k] = exp(logP) - exp(Double(ref[target]))
                  }
                }
              }
            }
          }
          nlls += rowNLL
          if kept != nil {
            kls += rowKL
            agree += rowAgree.filter { $0 }.count
            deltaP += rowDelta.reduce(0, +)
          }
        })
      start = end
      progress?(start, windows.count)
    }
    let perplexity = TextPerplexity(
      nlls: nlls, documents: documents, seqLen: seqLen, stride: stride)
    guard reference != nil else { return (perplexity, nil) }
    let sorted = kls.sorted()
    let divergence = Divergence(
      tokens: kls.count, klMean: Statistics.mean(kls),
      klMedian: Statistics.percentile(sorted, 50), klP99: Statistics.percentile(sorted, 99),
      top1Agreement: Double(agree) / Double(kls.count), deltaPMean: deltaP / Double(kls.count),
      reference: TextPerplexity(
        nlls: referenceNLLs, documents: documents, seqLen: seqLen, stride: stride))
    return (perplexity, divergence)
  }
}
