/// Problems with evaluation inputs, naming the file and line.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
  case cannotRead(path: String, reason: String)
  case badLine(path: String, line: Int, reason: String)
  case empty(path: String, reason: String)
  /// Two inputs that must agree do not (e.g. vocabularies, predictions files).
  case mismatch(path: String, reason: String)
  /// A request that cannot be honoured (e.g. an option out of range).
  case invalid(String)
  /// A perplexity window shorter than one token.
  case windowLength(Int)
  /// A window stride outside 1...the window length.
  case windowStride(stride: Int, seqLen: Int)
  /// A task file whose fields match no known layout (`formats` are the layouts that can be named).
  case unknownTaskLayout(path: String, line: Int, fields: [String], formats: [String])

  public var description: String {
    switch self {
    case .cannotRead(let path, let reason): return "\(path): \(reason)"
    case .badLine(let path, let line, let reason): return "\(path):\(line): \(reason)"
    case .empty(let path, let reason): return "\(path): \(reason)"
    case .mismatch(let path, let reason): return "\(path): \(reason)"
    case .invalid(let reason): return reason
    case .windowLength(let seqLen): return "windows must be at least 1 token long, not \(seqLen)"
    case .windowStride(let stride, let seqLen):
      return "the window stride \(stride) must be between 1 and the window length (\(seqLen))"
    case .unknownTaskLayout(let path, let line, let fields, let formats):
      return
        "\(path):\(line): cannot tell the task layout from the fields \(fields); use {\"context\", \"choices\", \"label\"} or name one of the layouts ("
        + formats.joined(separator: ", ") + ")"
    }
  }
}
