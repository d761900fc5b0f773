import Checkpoint
import Foundation

/// A file of token-id sequences, one per line: ids separated by spaces or commas, or a JSON
/// array. Blank lines are skipped.
public enum TokenIdsFile {
  /// The largest id accepted: tokenizers and models index vocabularies with 32-bit ids.
  public static let maximumTokenId = Int(Int32.max)

  public static func read(path: String) throws -> [[Int]] {
    try InputFile.requireRegular(path)
    guard let data = FileManager.default.contents(atPath: path) else {
      throw EvaluationError.cannotRead(path: path, reason: "cannot read the file")
    }
    return try parse(data, path: path)
  }

  /// The sequences in `data`, the contents of the file at `path` (named in errors).
  public static func parse(_ data: Data, path: String) throws -> [[Int]] {
    guard let text = String(data: data, encoding: .utf8) else {
      throw EvaluationError.cannotRead(path: path, reason: "not UTF-8 text")
    }
    var sequences: [[Int]] = []
    for (number, line) in TextLines.split(text).enumerated() {
      let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
      if trimmed.isEmpty { continue }
      var body = Substring(trimmed)
      if body.hasPrefix("[") {
        guard body.hasSuffix("]") else {
          throw EvaluationError.badLine(
            path: path, line: number + 1, reason: "JSON array is not closed")
        }
        body = body.dropFirst().dropLast()
      }
      var ids: [Int] = []
      for field in body.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }) {
        guard let id = Int(field) else {
          throw EvaluationError.badLine(
            path: path, line: number + 1, reason: "\"\(field.prefix(20))\" is not a token id")
        }
        guard id >= 0, id <= maximumTokenId else {
          throw EvaluationError.badLine(
            path: path, line: number + 1,
            reason: "token id \(id) is outside 0...\(maximumTokenId)")
        }
        ids.append(id)
      }
      guard !ids.isEmpty else {
        throw EvaluationError.badLine(path: path, line: number + 1, reason: "no token ids")
      }
      sequences.append(ids)
    }
    guard !sequences.isEmpty else {
      throw EvaluationError.empty(path: path, reason: "holds no token sequences")
    }
    return sequences
  }
}
