import Checkpoint
import Crypto
import Foundation
import Models
import Tensors
import Tokenizers

/// Why a folder cannot be written as GGUF, one line each.
public enum GGUFExportError: Error, CustomStringConvertible, Equatable {
  /// llama.cpp has no architecture for the family, or the family does not name its tensors yet.
  case unsupportedArchitecture(modelType: String, reason: String)
  /// The tokenizer has no GGUF form llama.cpp would read the same way.
  case unsupportedTokenizer(path: String, reason: String)

  public var description: String {
    switch self {
    case .unsupportedArchitecture(let modelType, let reason):
      return "model_type \(modelType) cannot be exported to GGUF: \(reason)"
    case .unsupportedTokenizer(let path, let reason):
      return "\(path): the tokenizer cannot be exported to GGUF: \(reason)"
    }
  }
}
