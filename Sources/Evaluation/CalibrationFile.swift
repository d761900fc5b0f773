import Foundation

/// One calibration document: text to tokenize, or token ids given as they are.
public enum CalibrationDocument: Sendable, Equatable {
  case text(String)
  case ids([Int])
}

/// The documents of one calibration file. Kept apart from sampling (in the Streamline module)
/// so that the parser can be tested and fuzzed on bytes alone.
///
/// - `.jsonl`: one JSON object per line with `input_ids` (a list of token ids) or a text field;
/// - anything else: the whole file is one document, or each non-blank line with
///   `lineDocuments`.
public enum CalibrationFile {
  /// The largest token id accepted: tokenizers and models use 32-bit ids.
  public static let maximumTokenId = Int(Int32.max)

  public static func documents(
    _ data: Data, path: String, lineDocuments: Bool = false, textField: String = "text"
  ) throws -> [CalibrationDocument] {
    guard let text = String(data: data, encoding: .utf8) else {
      throw EvaluationError.cannotRead(path: path, reason: "not UTF-8 text")
    }
    if path.hasSuffix(".jsonl") { return try jsonLines(text, path: path, field: textField) }
    if lineDocuments {
      return TextLines.split(text)
        .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map(CalibrationDocument.text)
    }
    return text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? [] : [.text(text)]
  }

  static func jsonLines(_ text: String, path: String, field: String) throws
    -> [CalibrationDocument]
  {
    var out: [CalibrationDocument] = []
    for (number, line) in TextLines.split(text).enumerated() {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.isEmpty { continue }
      func fail(_ reason: String) -> EvaluationError {
        .badLine(path: path, line: number + 1, reason: reason)
      }
      guard
        let object = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)))
          as? [String: Any]
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
              "input_ids[\(position)] is \(String(describing: item).prefix(24)), not a token id in 0...\(maximumTokenId)"
            )
          }
          row.append(id)
        }
        out.append(.ids(row))
      } else if let text = object[field] as? String {
        if !text.isEmpty { out.append(.text(text)) }
      } else {
        throw fail("has neither input_ids nor a \"\(field)\" text field")
      }
    }
    return out
  }
}
