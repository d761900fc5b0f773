/// Problems with evaluation inputs, naming the file and line.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
  case cannotRead(path: String, reason: String)
  case badLine(path: String, line: Int, reason: String)
  case empty(path: String, reason: String)
  /// Two inputs that must agree do not (e.g. vocabularies, predictions files).
  case mismatch(path: String, reason: String)
  /// A request that cannot be honoured (e.g. an option out of range).
  case invalid(String)

  public var description: String {
    switch self {
    case .cannotRead(let path, let reason): return "\(path): \(reason)"
    case .badLine(let path, let line, let reason): return "\(path):\(line): \(reason)"
    case .empty(let path, let reason): return "\(path): \(reason)"
    case .mismatch(let path, let reason): return "\(path): \(reason)"
    case .invalid(let reason): return reason
    }
  }
}
