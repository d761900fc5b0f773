import Crypto
import Evaluation
import Foundation
import Models
import Tokenizers

/// Where calibration sequences come from and how they are cut.
public struct CalibrationOptions: Sendable {
  public var path: String
  public var seqLen = 512
  public var samples = 64
  public var seed: UInt64 = 0
  /// One document per line of a `.txt` file instead of one per file.
  public var lineDocuments = false
  public var textField = "text"

  public init(path: String) { self.path = path }
}

/// The sequences layer importance is measured on, and what they were made from.
public struct CalibrationSet: Sendable {
  public let sequences: [[Int]]
  public let documents: Int
  /// Tokens available before sampling.
  public let availableTokens: Int
  /// SHA-256 of the input files' bytes and the cutting options.
  public let sha256: String
  public let description: String

  public var tokens: Int { sequences.reduce(0) { $0 + $1.count } }
}

/// Builds calibration sets: documents are tokenized with the model's tokenizer (which adds BOS
/// where it does), joined with EOS, cut into `seqLen`-token sequences, and `samples` of them are
/// drawn with `seed`. Rows of exactly `seqLen` pre-tokenized `input_ids` are used as they are.
public enum Calibration {
  typealias Document = CalibrationDocument

  public static func load(
    _ options: CalibrationOptions, tokenizer: Tokenizer?, vocabularySize: Int,
    progress: Progress? = nil
  ) throws -> CalibrationSet {
    guard options.seqLen >= 2 else {
      throw StreamlineError.badRequest(
        "--seq-len is \(options.seqLen); it must be at least 2 (a sequence of one token predicts nothing)"
      )
    }
    guard options.samples > 0 else {
      throw StreamlineError.badRequest("--samples must be positive")
    }
    let files = try inputFiles(options.path)
    var hasher = SHA256()
    var documents: [Document] = []
    var exactRows: [[Int]] = []
    for file in files {
      try CalibrationFile.read(
        path: file, lineDocuments: options.lineDocuments, textField: options.textField,
        bytes: { hasher.update(data: $0) }
      ) { document, _ in
        if case .ids(let ids) = document, ids.count == options.seqLen {
          exactRows.append(ids)
        } else {
          documents.append(document)
        }
      }
    }
    hasher.update(
      data: Data(
        "seq_len=\(options.seqLen) samples=\(options.samples) seed=\(options.seed) line_docs=\(options.lineDocuments) field=\(options.textField)"
          .utf8))
    guard !documents.isEmpty || !exactRows.isEmpty else {
      throw StreamlineError.calibration(path: options.path, reason: "holds no calibration text")
    }

    var stream: [Int] = []
    let needsTokenizer = documents.contains { if case .text = $0 { true } else { false } }
    if needsTokenizer && tokenizer == nil {
      throw StreamlineError.calibration(
        path: options.path,
        reason: "is text, but the model folder has no tokenizer.json to tokenize it with")
    }
    for (d, document) in documents.enumerated() {
      switch document {
      case .ids(let ids):
        stream += ids
      case .text(let text):
        let tokenizer = tokenizer!
        stream += try tokenizer.encode(text, addSpecialTokens: true)
        if !tokenizer.addsEOS, let eos = tokenizer.eosTokenId { stream.append(eos) }
      }
      progress?.update(d + 1, of: documents.count, amount: Double(stream.count))
    }
    if let bad = (stream + exactRows.joined()).first(where: { $0 < 0 || $0 >= vocabularySize }) {
      throw StreamlineError.calibration(
        path: options.path,
        reason: "token id \(bad) is outside the model's vocabulary (0..<\(vocabularySize))")
    }
    var pool = exactRows
    for start in stride(from: 0, to: stream.count - options.seqLen + 1, by: options.seqLen) {
      pool.append(Array(stream[start..<(start + options.seqLen)]))
    }
    let available = stream.count + exactRows.count * options.seqLen
    guard pool.count >= options.samples else {
      throw StreamlineError.calibration(
        path: options.path,
        reason:
          "\(available) tokens make \(pool.count) sequences of \(options.seqLen), but --samples asks for \(options.samples) (use fewer samples, a shorter --seq-len, or more text)"
      )
    }
    var generator = SplitMix(seed: options.seed)
    var order = Array(pool.indices)
    generator.shuffle(&order)
    let chosen = order.prefix(options.samples).sorted().map { pool[$0] }
    let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
    return CalibrationSet(
      sequences: chosen, documents: documents.count + exactRows.count,
      availableTokens: available, sha256: digest,
      description:
        "\(options.samples) × \(options.seqLen) tokens drawn with seed \(options.seed) from \(options.path) (\(available) tokens in \(documents.count + exactRows.count) documents)"
    )
  }

  /// The calibration files: the path itself, or the `.txt` and `.jsonl` files of a folder.
  static func inputFiles(_ path: String) throws -> [String] {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
      throw StreamlineError.calibration(path: path, reason: "no such file or folder")
    }
    guard isFolder.boolValue else {
      guard path.hasSuffix(".txt") || path.hasSuffix(".jsonl") else {
        throw StreamlineError.calibration(
          path: path, reason: "calibration data must be a .txt or .jsonl file, or a folder of them")
      }
      return [path]
    }
    let url = URL(fileURLWithPath: path)
    let names = (try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? []
    let files = names.filter { $0.hasSuffix(".txt") || $0.hasSuffix(".jsonl") }.sorted()
      .map { url.appendingPathComponent($0).path }
    guard !files.isEmpty else {
      throw StreamlineError.calibration(path: path, reason: "holds no .txt or .jsonl files")
    }
    return files
  }
}
