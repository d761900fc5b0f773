import Streamline

extension OutputRole {
  /// The flag that gives this output's path.
  var flag: String {
    switch self {
    case .output: "--output"
    case .report: "--report"
    case .gguf: "--gguf"
    case .predictions: "--predictions"
    case .statistics: "--save-stats"
    }
  }
}
