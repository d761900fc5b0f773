import Checkpoint
import Crypto
import Evaluation
import Foundation
import Models

/// Writes a checkpoint with decoder layers removed: the remaining layers renumbered, config.json's
/// layer count and per-layer lists updated, every kept tensor copied bit-exact in its dtype,
/// tokenizer and generation files copied, and a `streamline.json` manifest. All or nothing: the
/// output appears only when complete.
public enum Surgery {
  /// Files copied from the source folder: their contents (a hub cache's symbolic links into
  /// `../../blobs` are followed and written as files), regular files only.
  public static let companionFiles = [
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
    "vocab.json", "merges.txt", "added_tokens.json", "generation_config.json",
    "chat_template.jinja", "chat_template.json",
  ]

  /// A tensor to write in place of a source tensor, given the name it will have.
  public typealias Override = (_ name: String) throws -> WritableTensor

  /// `removing` are 0-based source layers; `overrides` replace source tensors (by source name)
  /// in layers that stay.
  public static func write(
    source: ModelFolder, config: any Architecture, removing: [Int],
    overrides: [String: Override] = [:], manifest: [String: Any], to target: URL,
    force: Bool = false, maxShardSize: Int = CheckpointWriter.defaultMaxShardSize,
    progress: Progress? = nil
  ) throws -> SavedCheckpoint {
    try check(Set(removing), config: config)
    let output = try OutputFolder(target: target, inputs: [source.url], force: force)
    let saved = try write(
      source: source, config: config, removing: removing, overrides: overrides,
      manifest: manifest, into: output, maxShardSize: maxShardSize, progress: progress)
    try output.commit()
    return saved
  }

  /// `write`, into an output folder made (and checked) by the caller, who commits it after adding
  /// what else belongs to the result (the held-out evaluation in `streamline.json`).
  public static func write(
    source: ModelFolder, config: any Architecture, removing: [Int],
    overrides: [String: Override] = [:], manifest: [String: Any], into output: OutputFolder,
    maxShardSize: Int = CheckpointWriter.defaultMaxShardSize, progress: Progress? = nil
  ) throws -> SavedCheckpoint {
    let removed = Set(removing)
    try check(removed, config: config)
    var tensors: [WritableTensor] = []
    for name in source.tensorNames {
      guard let newName = renamed(name, removing: removed, config: config) else { continue }
      if let override = overrides[name] {
        tensors.append(try override(newName))
      } else {
        tensors.append(
          try WritableTensor(copying: name, from: source, as: newName, checked: true))
      }
    }
    let saved = try CheckpointWriter.save(
      tensors, to: output.url, maxShardSize: maxShardSize,
      progress: { written, total in progress?.update(written >> 20, of: max(1, total >> 20)) })
    try output.write(
      try json(config.editedConfig(source.config, removing: removed)), as: "config.json")
    for name in companionFiles {
      let file = source.url.appendingPathComponent(name)
      if FileManager.default.fileExists(atPath: file.path) { try output.copyContents(file) }
    }
    var record = manifest
    record["tool"] = "streamline \(StreamlineVersion.current)"
    record["source"] = sourceRecord(source)
    record["removed_layers"] = removed.sorted()
    record["num_layers"] = ["before": config.numLayers, "after": config.numLayers - removed.count]
    try output.write(try json(record), as: "streamline.json")
    return saved
  }

  /// Every parameter of each layer of `layers` (a source layer and the layer that takes its
  /// place), written over that source layer's tensors in their dtype.
  static func overrides(
    writing layers: [(Int, any DecoderLayer)], over source: ModelFolder, config: any Architecture
  ) throws -> [String: Override] {
    var overrides: [String: Override] = [:]
    for (index, trained) in layers {
      let prefix = config.layerPrefix(index)
      for (name, shape, values) in trained.namedParameters() {
        let sourceName = prefix + name
        let dtype = try source.info(sourceName).dtype
        let copy = Array(values)
        overrides[sourceName] = { newName in
          try WritableTensor(newName, shape: shape, values: copy, as: dtype)
        }
      }
    }
    return overrides
  }

  /// Checks before any work what the copy pass would otherwise refuse after it: every side file
  /// present is a regular file (after symbolic links; a FIFO would block), every tensor F32, F16
  /// or BF16, and with `values` every value finite.
  public static func checkSource(_ source: ModelFolder, values: Bool) throws {
    for name in companionFiles {
      try InputFile.requireRegular(source.url.appendingPathComponent(name).path)
    }
    try source.requireSound(values: values)
  }

  static func check(_ removed: Set<Int>, config: any Architecture) throws {
    guard removed.allSatisfy({ $0 >= 0 && $0 < config.numLayers }), !removed.isEmpty else {
      throw StreamlineError.badRequest(
        "layers to remove must lie in 0..<\(config.numLayers) and not be empty")
    }
    guard removed.count < config.numLayers else {
      throw StreamlineError.badRequest("removing all \(config.numLayers) layers leaves no model")
    }
  }

  /// The name of a source tensor in the pruned checkpoint, nil when its layer is removed.
  /// Layer i's tensors are named `config.layerPrefix(i)` + the tensor's own name.
  static func renamed(_ name: String, removing removed: Set<Int>, config: any Architecture)
    -> String?
  {
    // The part before the index: `model.layers.` for `model.layers.0.`.
    let prefix = String(config.layerPrefix(0).dropLast("0.".count))
    guard name.hasPrefix(prefix) else { return name }
    let rest = name.dropFirst(prefix.count)
    guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return name }
    if removed.contains(layer) { return nil }
    let shift = removed.filter { $0 < layer }.count
    return config.layerPrefix(layer - shift) + rest[rest.index(after: dot)...]
  }

  /// The inverse of `renamed`: the name in the source of tensor `name` of a pruned model whose
  /// layer i is source layer `sourceLayers[i]`.
  static func sourceName(_ name: String, sourceLayers: [Int], config: any Architecture) -> String {
    let prefix = String(config.layerPrefix(0).dropLast("0.".count))
    guard name.hasPrefix(prefix) else { return name }
    let rest = name.dropFirst(prefix.count)
    guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]) else { return name }
    return config.layerPrefix(sourceLayers[layer]) + rest[rest.index(after: dot)...]
  }

  /// config.json with `num_hidden_layers` and every per-layer list updated.
  static func editedConfig(_ source: ModelFolder, layers: Int, removing removed: Set<Int>) throws
    -> Data
  {
    let architecture = try Architectures.config(from: source.configData, path: source.configPath)
    precondition(
      architecture.numLayers == layers, "config.json has \(architecture.numLayers) layers")
    return try json(architecture.editedConfig(source.config, removing: removed))
  }

  static func sourceRecord(_ source: ModelFolder) -> [String: Any] {
    var record: [String: Any] = [
      "path": source.url.standardizedFileURL.path,
      "config_sha256": sha256(source.configData),
    ]
    let index = source.url.appendingPathComponent(CheckpointWriter.indexFileName)
    if let data = FileManager.default.contents(atPath: index.path) {
      record["index_sha256"] = sha256(data)
    } else if let file = source.files.first {
      // The header names every tensor with its dtype, shape and offsets.
      let headerEnd = file.tensors.values.map(\.byteRange.lowerBound).min() ?? file.file.size
      record["header_sha256"] = sha256(Data(file.file.bytes(0..<headerEnd)))
    }
    return record
  }

  public static func sha256(_ data: Data) -> String {
    SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
  }

  /// Key-sorted, indented JSON, as transformers writes config.json.
  ///
  /// A float with a whole value stays a float (`4.0`, not `4`): JSONSerialization drops the
  /// fraction, and transformers' strict config classes refuse an integer for a float field
  /// (Gemma 2's `final_logit_softcapping: 30.0`), so such numbers go through a placeholder.
  /// NaN and infinities (which JSONSerialization refuses) are written as null.
  public static func json(_ object: Any) throws -> Data {
    let marker = "@@streamline-whole-float@@"
    func marking(_ value: Any) -> Any {
      if let dictionary = value as? [String: Any] { return dictionary.mapValues(marking) }
      if let list = value as? [Any] { return list.map(marking) }
      if let number = value as? NSNumber {
        let type = String(cString: number.objCType)
        let double = number.doubleValue
        if type == "d" || type == "f", double.isFinite, double == double.rounded(),
          abs(double) < 1e15
        {
          return marker + String(Int64(double))
        }
      }
      return value
    }
    let data = try JSONSerialization.data(
      withJSONObject: marking(JSONOutput.nullingNonFinite(object)),
      options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    var text = String(decoding: data, as: UTF8.self)
    text = text.replacingOccurrences(
      of: "\"\(marker)(-?[0-9]+)\"", with: "$1.0", options: .regularExpression)
    return Data((text + "\n").utf8)
  }
}
