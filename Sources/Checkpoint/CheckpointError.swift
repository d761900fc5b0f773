/// Everything that can be wrong with a checkpoint on disk, each case naming the file and, where
/// there is one, the tensor.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
  case cannotOpen(path: String, reason: String)
  case notAModelFolder(path: String, found: [String])
  case pickleRefused(path: String)
  case malformedHeader(path: String, reason: String)
  case badTensor(path: String, tensor: String, reason: String)
  /// A tensor holding NaN or infinite values: every result computed from it would be NaN.
  case nonFinite(path: String, tensor: String)
  case missingTensor(tensor: String, folder: String)
  case missingShard(index: String, shard: String)
  case unsupportedDType(path: String, tensor: String, dtype: String)
  case malformedConfig(path: String, reason: String)
  case writeFailed(path: String, reason: String)
  /// An output folder Streamline will not write: inside the input model, or existing without
  /// `force`.
  case outputRefused(path: String, reason: String)
  /// An output folder that exists (or `appeared` while being written) and is not empty, which
  /// only an explicit request to replace it may replace.
  case outputNotEmpty(path: String, appeared: Bool)
  /// An output file that exists, which only an explicit request to replace it may replace.
  case outputFileExists(path: String)
  /// A size that is not like "5GB" or "500MB", or is above `ByteSize.maximum`.
  case notASize(String)

  public var description: String {
    switch self {
    case .cannotOpen(let path, let reason):
      return "\(path): cannot open: \(reason)"
    case .notAModelFolder(let path, let found):
      let listing =
        found.isEmpty ? "it is empty" : "it holds \(found.prefix(8).joined(separator: ", "))"
      return
        "\(path): no model.safetensors or model.safetensors.index.json here (\(listing))"
    case .pickleRefused(let path):
      return
        "\(path): pickle checkpoints can run arbitrary code and are never loaded; convert to "
        + "safetensors first, e.g. in Python: AutoModelForCausalLM.from_pretrained(DIR)"
        + ".save_pretrained(OUT, safe_serialization=True)"
    case .malformedHeader(let path, let reason):
      return "\(path): not a valid safetensors file: \(reason)"
    case .badTensor(let path, let tensor, let reason):
      return "\(path): tensor \(tensor): \(reason)"
    case .nonFinite(let path, let tensor):
      return
        "\(path): tensor \(tensor) holds NaN or infinite values; the checkpoint is damaged (every result computed from it would be NaN)"
    case .missingTensor(let tensor, let folder):
      return "\(folder): the checkpoint has no tensor \(tensor)"
    case .missingShard(let index, let shard):
      return "\(index): lists shard \(shard), which is missing"
    case .unsupportedDType(let path, let tensor, let dtype):
      return
        "\(path): tensor \(tensor) has dtype \(dtype); supported for compute: F32, F16, BF16"
    case .malformedConfig(let path, let reason):
      return "\(path): \(reason)"
    case .writeFailed(let path, let reason):
      return "\(path): cannot write: \(reason)"
    case .outputRefused(let path, let reason):
      return "\(path): refusing to write the output here: \(reason)"
    case .outputNotEmpty(let path, let appeared):
      return
        "\(path): refusing to write the output here: the folder \(appeared ? "appeared" : "exists") and is not empty; replacing it must be asked for"
    case .outputFileExists(let path):
      return
        "\(path): refusing to write the output here: the file exists; replacing it must be asked for"
    case .notASize(let text):
      return "\(text) is not a size like 5GB or 500MB (at most 1000TB)"
    }
  }
}

extension CheckpointError {
  /// The error with a path under `hidden` (a temporary folder) named as under `shown` (the
  /// output the user gave).
  public func naming(_ hidden: String, as shown: String) -> CheckpointError {
    func name(_ path: String) -> String {
      path.hasPrefix(hidden) ? shown + path.dropFirst(hidden.count) : path
    }
    switch self {
    case .cannotOpen(let path, let reason): return .cannotOpen(path: name(path), reason: reason)
    case .malformedHeader(let path, let reason):
      return .malformedHeader(path: name(path), reason: reason)
    case .badTensor(let path, let tensor, let reason):
      return .badTensor(path: name(path), tensor: tensor, reason: reason)
    case .nonFinite(let path, let tensor): return .nonFinite(path: name(path), tensor: tensor)
    case .malformedConfig(let path, let reason):
      return .malformedConfig(path: name(path), reason: reason)
    case .writeFailed(let path, let reason): return .writeFailed(path: name(path), reason: reason)
    default: return self
    }
  }
}
