import Foundation

/// What `CheckpointWriter.save` wrote.
public struct SavedCheckpoint: Sendable, Equatable {
  /// The safetensors files, in shard order (one `model.safetensors` when not sharded).
  public let files: [String]
  /// Tensor name → file name.
  public let weightMap: [String: String]
  /// Bytes of tensor data, header excluded: the index's `metadata.total_size`.
  public let totalSize: Int
  /// Elements over all tensors: the index's `metadata.total_parameters`.
  public let totalParameters: Int
  public var isSharded: Bool { files.count > 1 }
}

/// Writes a model's weights as `transformers`' `save_pretrained(max_shard_size=…)` does:
/// `model.safetensors` when everything fits in one shard, otherwise
/// `model-0000i-of-0000N.safetensors` and `model.safetensors.index.json`.
public enum CheckpointWriter {
  /// transformers 4.x's default `max_shard_size`, "5GB" (5 × 10⁹ bytes).
  public static let defaultMaxShardSize = 5_000_000_000
  public static let singleFileName = "model.safetensors"
  public static let indexFileName = "model.safetensors.index.json"

  /// Splits `tensors` into shards exactly as `huggingface_hub.split_state_dict_into_shards_factory`
  /// does (what `save_pretrained` calls): walk the tensors in the given (state-dict) order; a
  /// tensor larger than `maxShardSize` gets a shard of its own, appended at once; otherwise the
  /// current shard is closed when the tensor would take it past `maxShardSize`. Sizes are tensor
  /// bytes, headers not counted. Returns the shards, each in the given order.
  public static func shards(_ tensors: [WritableTensor], maxShardSize: Int = defaultMaxShardSize)
    -> [[WritableTensor]]
  {
    var list: [[WritableTensor]] = []
    var current: [WritableTensor] = []
    var currentSize = 0
    for tensor in tensors {
      let size = tensor.byteCount
      if size > maxShardSize {
        list.append([tensor])
        continue
      }
      if currentSize + size > maxShardSize {
        list.append(current)
        current = []
        currentSize = 0
      }
      current.append(tensor)
      currentSize += size
    }
    if !current.isEmpty { list.append(current) }
    return list
  }

  /// The file name of shard `index` (0-based) of `count`.
  public static func shardName(_ index: Int, of count: Int) -> String {
    count == 1
      ? singleFileName : "model-\(fiveDigits(index + 1))-of-\(fiveDigits(count)).safetensors"
  }

  /// Writes the weights into `folder` (an existing folder, normally `OutputFolder.url`), each file
  /// streamed, and returns what was written. Tensor names must be unique. `progress` gets the
  /// tensor bytes written so far over all shards, and their total.
  @discardableResult
  public static func save(
    _ tensors: [WritableTensor], to folder: URL, maxShardSize: Int = defaultMaxShardSize,
    metadata: [String: String]? = SafeTensorsWriter.pytorchMetadata,
    progress: ((_ written: Int, _ total: Int) -> Void)? = nil
  ) throws -> SavedCheckpoint {
    var seen = Set<String>()
    for tensor in tensors where !seen.insert(tensor.name).inserted {
      throw CheckpointError.badTensor(
        path: folder.path, tensor: tensor.name, reason: "is given twice")
    }
    guard maxShardSize > 0 else {
      throw CheckpointError.writeFailed(
        path: folder.path, reason: "the maximum shard size must be positive")
    }
    let parts = shards(tensors, maxShardSize: maxShardSize)
    var files: [String] = []
    var weightMap: [String: String] = [:]
    let total = tensors.reduce(0) { $0 + $1.byteCount }
    var done = 0
    for (i, part) in (parts.isEmpty ? [[]] : parts).enumerated() {
      let name = shardName(i, of: max(parts.count, 1))
      try SafeTensorsWriter.write(
        part, to: folder.appendingPathComponent(name).path, metadata: metadata,
        progress: progress.map { report in { written, _ in report(done + written, total) } })
      done += part.reduce(0) { $0 + $1.byteCount }
      files.append(name)
      for tensor in part { weightMap[tensor.name] = name }
    }
    let saved = SavedCheckpoint(
      files: files, weightMap: weightMap,
      totalSize: total,
      totalParameters: tensors.reduce(0) { $0 + $1.elementCount })
    if saved.isSharded {
      let path = folder.appendingPathComponent(indexFileName).path
      let out = try OutputFile(path: path)
      do {
        try indexJSON(saved).withUnsafeBytes { try out.write($0) }
        try out.finish()
      } catch {
        out.abandon()
        throw error
      }
    }
    return saved
  }

  /// `model.safetensors.index.json` as transformers writes it:
  /// `json.dumps(index, indent=2, sort_keys=True) + "\n"` (ASCII, keys in code-point order).
  public static func indexJSON(_ saved: SavedCheckpoint) -> [UInt8] {
    var out = "{\n  \"metadata\": {\n"
    out += "    \"total_parameters\": \(saved.totalParameters),\n"
    out += "    \"total_size\": \(saved.totalSize)\n"
    out += "  },\n  \"weight_map\": {"
    let names = saved.weightMap.keys.sorted {
      $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars)
    }
    if names.isEmpty {
      out += "}\n}\n"
      return Array(out.utf8)
    }
    for (i, name) in names.enumerated() {
      out +=
        (i == 0 ? "\n    " : ",\n    ") + pythonJSONString(name) + ": "
        + pythonJSONString(saved.weightMap[name]!)
    }
    out += "\n  }\n}\n"
    return Array(out.utf8)
  }

  static func fiveDigits(_ n: Int) -> String {
    let digits = String(n)
    return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
  }
}

/// `text` as Python's `json.dumps` writes a string with `ensure_ascii=True`.
func pythonJSONString(_ text: String) -> String {
  var out = "\""
  for unit in text.utf16 {
    switch unit {
    case 0x22: out += "\\\""
    case 0x5C: out += "\\\\"
    case 0x0A: out += "\\n"
    case 0x0D: out += "\\r"
    case 0x09: out += "\\t"
    case 0x08: out += "\\b"
    case 0x0C: out += "\\f"
    case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
    default:
      let hex = String(unit, radix: 16)
      out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
  }
  return out + "\""
}
