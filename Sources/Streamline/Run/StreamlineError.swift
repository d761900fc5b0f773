/// Impossible requests and unusable inputs of the compression commands, one clear line each.
public enum StreamlineError: Error, CustomStringConvertible, Equatable {
  case calibration(path: String, reason: String)
  case badRequest(String)

  public var description: String {
    switch self {
    case .calibration(let path, let reason): return "\(path): \(reason)"
    case .badRequest(let reason): return reason
    }
  }
}
