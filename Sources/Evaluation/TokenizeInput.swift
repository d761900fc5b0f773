import Foundation

/// The texts `streamline tokenize` encodes, one result each. By default each line of the input
/// on its own (handy for a list of prompts); `whole` keeps the input as one string, line breaks
/// included, which is what `transformers` and `tokenizers` encode; `jsonl` reads one
/// `{"text": ...}` record (or JSON string) per line, so any text, line breaks included, can be
/// given exactly.
public enum TokenizeInput {
  public static func texts(_ data: Data, path: String, whole: Bool = false, jsonl: Bool = false)
    throws -> [String]
  {
    if jsonl { return try TextFile.parse(data, path: path, jsonl: true) }
    guard let text = String(data: data, encoding: .utf8) else {
      throw EvaluationError.cannotRead(path: path, reason: "not UTF-8 text")
    }
    return whole ? [text] : TextLines.split(text)
  }
}
