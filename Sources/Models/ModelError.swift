/// Why a model cannot be run, naming the file and what is supported instead.
public enum ModelError: Error, CustomStringConvertible, Equatable {
  case unsupportedArchitecture(path: String, modelType: String, supported: [String])
  case unsupportedFeature(path: String, feature: String, supported: String)
  case invalidConfig(path: String, reason: String)
  case unexpectedTensor(path: String, tensor: String)
  case tokenOutOfRange(sequence: Int, position: Int, token: Int, vocabularySize: Int)
  case sequenceTooLong(length: Int, limit: Int, reason: String)
  case emptyInput(String)

  public var description: String {
    switch self {
    case .unsupportedArchitecture(let path, let modelType, let supported):
      return
        "\(path): model_type \"\(modelType)\" is not supported (supported: \(supported.joined(separator: ", ")))"
    case .unsupportedFeature(let path, let feature, let supported):
      return "\(path): \(feature) is not supported (supported: \(supported))"
    case .invalidConfig(let path, let reason):
      return "\(path): \(reason)"
    case .unexpectedTensor(let path, let tensor):
      return
        "\(path): tensor \(tensor) is not part of this architecture (is config.json the right one?)"
    case .tokenOutOfRange(let sequence, let position, let token, let vocabularySize):
      return
        "sequence \(sequence + 1), position \(position): token id \(token) is outside the vocabulary (0..<\(vocabularySize))"
    case .sequenceTooLong(let length, let limit, let reason):
      return "a sequence of \(length) tokens exceeds \(limit): \(reason)"
    case .emptyInput(let what):
      return what
    }
  }
}
