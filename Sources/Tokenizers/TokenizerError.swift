import Foundation

/// Everything that can go wrong while loading or running a tokenizer. Each case names the file
/// (where there is one) and the problem, and prints as one line.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
  /// No `tokenizer.json` at the path (or in the folder).
  case fileNotFound(path: String)
  /// The path is a FIFO, device, socket or folder, refused before opening (a FIFO blocks).
  case notRegularFile(path: String)
  /// The file could not be read or is not valid JSON.
  case malformedJSON(path: String, reason: String)
  /// A required field is missing or has the wrong type.
  case invalidField(path: String, field: String, reason: String)
  /// The file asks for something this implementation does not support (e.g. a Unigram model).
  case unsupported(path: String, feature: String)
  /// A regular expression in the file could not be compiled.
  case invalidRegex(path: String, pattern: String, reason: String)
  /// Encoding needed a token that is not in the vocabulary (e.g. the unknown token).
  case missingToken(path: String, token: String, reason: String)

  public var description: String {
    switch self {
    case .fileNotFound(let path):
      return "\(path): no tokenizer.json found"
    case .notRegularFile(let path):
      return "\(path): is not a regular file (a FIFO, device or folder); refusing to read it"
    case .malformedJSON(let path, let reason):
      return "\(path): malformed JSON: \(reason)"
    case .invalidField(let path, let field, let reason):
      return "\(path): invalid field '\(field)': \(reason)"
    case .unsupported(let path, let feature):
      return "\(path): unsupported tokenizer feature: \(feature)"
    case .invalidRegex(let path, let pattern, let reason):
      return "\(path): cannot compile regex \(pattern.debugDescription): \(reason)"
    case .missingToken(let path, let token, let reason):
      return "\(path): token \(token.debugDescription) not in vocabulary: \(reason)"
    }
  }
}
