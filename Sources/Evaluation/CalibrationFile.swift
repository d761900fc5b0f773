import Checkpoint
import Foundation

/// One calibration document: text to tokenize, or token ids given as they are.
public enum CalibrationDocument: Sendable, Equatable {
  case text(String)
  case ids([Int])
}

/// The one parser of calibration files, used by the streamed draw of analyze and prune and by
/// the whole-file reader alike, and fuzzed on bytes alone (it lives apart from sampling, in the
/// Streamline module).
///
/// - `.jsonl`: one JSON object per line with `input_ids` (a list of token ids) or a text field;
///   ids must be integral JSON numbers in 0...`maximumTokenId` (never 1.9999, -0.5, 1e300 or
///   `true`, which a lenient reader would truncate, wrap or read as 1);
/// - anything else: the whole file is one document, or each non-blank line with
///   `lineDocuments`.
///
/// Lines end at "\n" with a trailing "\r" removed (`TextLines`' rule); messages name the file
/// and the 1-based line.
public enum CalibrationFile {
  /// The largest token id accepted: tokenizers and models use 32-bit ids.
  public static let maximumTokenId = Int(Int32.max)

  /// The documents of a file held in memory (tests and the fuzz target; the same parser as
  /// `read`), fed to it in blocks of `blockSize` bytes as `read` feeds a file's.
  public static func documents(
    _ data: Data, path: String, lineDocuments: Bool = false, textField: String = "text",
    blockSize: Int = 1 << 20
  ) throws -> [CalibrationDocument] {
    var reader = CalibrationReader(path: path, lineDocuments: lineDocuments, textField: textField)
    var out: [CalibrationDocument] = []
    var start = data.startIndex
    while start < data.endIndex {
      let end =
        data.index(start, offsetBy: max(1, blockSize), limitedBy: data.endIndex) ?? data.endIndex
      try reader.consume(data[start..<end]) { document, _ in out.append(document) }
      start = end
    }
    try reader.finish { document, _ in out.append(document) }
    return out
  }

  /// Streams the file at `path` in 1 MiB blocks, handing each block to `bytes` (for hashing)
  /// and each document to `body` with its place ("file:line", or the file), so a big file is
  /// never held whole (except a `.txt` read as one document, which is one document).
  public static func read(
    path: String, lineDocuments: Bool = false, textField: String = "text",
    bytes: (Data) -> Void = { _ in },
    _ body: (CalibrationDocument, String) throws -> Void
  ) throws {
    try InputFile.requireRegular(path)
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw EvaluationError.cannotRead(path: path, reason: "cannot read the file")
    }
    defer { try? handle.close() }
    var reader = CalibrationReader(path: path, lineDocuments: lineDocuments, textField: textField)
    while true {
      let block: Data
      do {
        block = try handle.read(upToCount: 1 << 20) ?? Data()
      } catch {
        throw EvaluationError.cannotRead(path: path, reason: "cannot read the file")
      }
      if block.isEmpty { break }
      bytes(block)
      try reader.consume(block, body)
    }
    try reader.finish(body)
  }

  /// One `.jsonl` record (line `line` of `path`): its documents (none for an empty text).
  public static func record(_ text: String, path: String, line: Int, field: String) throws
    -> [CalibrationDocument]
  {
    func fail(_ reason: String) -> EvaluationError {
      .badLine(path: path, line: line, reason: reason)
    }
    guard
      let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    else { throw fail("not a JSON object") }
    if let ids = object["input_ids"] {
      guard let list = ids as? [Any], !list.isEmpty else {
        throw fail("input_ids is not a non-empty list of token ids")
      }
      var row: [Int] = []
      row.reserveCapacity(list.count)
      for (position, item) in list.enumerated() {
        guard let id = JSONInteger.value(item, in: 0...maximumTokenId) else {
          throw fail(
            "input_ids[\(position)] is \(JSONInteger.describe(item)), not a token id in 0...\(maximumTokenId)"
          )
        }
        row.append(id)
      }
      return [.ids(row)]
    }
    if let text = object[field] as? String { return text.isEmpty ? [] : [.text(text)] }
    throw fail("has neither input_ids nor a \"\(field)\" text field")
  }
}

/// The incremental state of `CalibrationFile`: bytes in, documents out as each line completes.
struct CalibrationReader {
  let path: String
  let jsonLines: Bool
  let lineDocuments: Bool
  let field: String
  /// Bytes after the last line break (the whole file for a one-document `.txt`).
  var pending = Data()
  var line = 0

  init(path: String, lineDocuments: Bool, textField: String) {
    self.path = path
    jsonLines = path.hasSuffix(".jsonl")
    self.lineDocuments = lineDocuments
    field = textField
  }

  var splitsLines: Bool { jsonLines || lineDocuments }

  mutating func consume(_ block: Data, _ body: (CalibrationDocument, String) throws -> Void)
    throws
  {
    pending.append(block)
    guard splitsLines else { return }
    var start = pending.startIndex
    while let newline = pending[start...].firstIndex(of: 0x0A) {
      try parse(pending[start..<newline], body)
      start = newline + 1
    }
    pending = Data(pending[start...])
  }

  mutating func finish(_ body: (CalibrationDocument, String) throws -> Void) throws {
    defer { pending = Data() }
    guard splitsLines else {
      guard let text = String(data: pending, encoding: .utf8) else {
        throw EvaluationError.cannotRead(path: path, reason: "not UTF-8 text")
      }
      if !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
        try body(.text(text), path)
      }
      return
    }
    if !pending.isEmpty { try parse(pending, body) }
  }

  mutating func parse(_ bytes: Data, _ body: (CalibrationDocument, String) throws -> Void)
    throws
  {
    line += 1
    guard var text = String(data: bytes, encoding: .utf8) else {
      throw EvaluationError.badLine(path: path, line: line, reason: "not UTF-8 text")
    }
    if text.unicodeScalars.last == "\r" { text.unicodeScalars.removeLast() }
    if text.trimmingCharacters(in: .whitespaces).isEmpty { return }
    let place = "\(path):\(line)"
    guard jsonLines else { return try body(.text(text), place) }
    for document in try CalibrationFile.record(text, path: path, line: line, field: field) {
      try body(document, place)
    }
  }
}
