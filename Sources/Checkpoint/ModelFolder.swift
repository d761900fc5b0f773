import Foundation
import Tensors

/// A Hugging Face model folder: `config.json` and either `model.safetensors` or shards listed in
/// `model.safetensors.index.json`. Tensors are read from memory maps on demand.
public final class ModelFolder: @unchecked Sendable {
  public let url: URL
  /// The raw `config.json` object; architectures decode what they need from `configData`.
  public let config: [String: Any]
  public let configData: Data
  /// Every safetensors file of the checkpoint, in file-name order.
  public let files: [SafeTensorsFile]
  let location: [String: SafeTensorsFile]

  public var configPath: String { url.appendingPathComponent("config.json").path }

  public init(url: URL) throws {
    self.url = url
    let manager = FileManager.default
    var isFolder: ObjCBool = false
    guard manager.fileExists(atPath: url.path, isDirectory: &isFolder) else {
      throw CheckpointError.cannotOpen(path: url.path, reason: "no such file or folder")
    }
    guard isFolder.boolValue else {
      if PickleGuard.isPickle(path: url.path) {
        throw CheckpointError.pickleRefused(path: url.path)
      }
      throw CheckpointError.cannotOpen(path: url.path, reason: "expected a model folder")
    }
    let listing = ((try? manager.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
    let indexURL = url.appendingPathComponent("model.safetensors.index.json")
    let sharded = listing.contains("model.safetensors.index.json")
    guard sharded || listing.contains("model.safetensors") else {
      // Refuse pickles by name alone: they are never opened.
      if let pickle = listing.first(where: PickleGuard.hasPickleName) {
        throw CheckpointError.pickleRefused(path: url.appendingPathComponent(pickle).path)
      }
      throw CheckpointError.notAModelFolder(path: url.path, found: listing)
    }

    let configURL = url.appendingPathComponent("config.json")
    try InputFile.requireRegular(configURL.path)
    guard let data = manager.contents(atPath: configURL.path) else {
      throw CheckpointError.cannotOpen(
        path: configURL.path, reason: "the model folder has no readable config.json")
    }
    let parsed: Any
    do {
      parsed = try JSONSerialization.jsonObject(with: data)
    } catch {
      throw CheckpointError.malformedConfig(path: configURL.path, reason: "not valid JSON")
    }
    guard let object = parsed as? [String: Any] else {
      throw CheckpointError.malformedConfig(path: configURL.path, reason: "not a JSON object")
    }
    configData = data
    config = object

    var location: [String: SafeTensorsFile] = [:]
    if sharded {
      let shards = try Self.readIndex(indexURL)
      var opened: [String: SafeTensorsFile] = [:]
      for shard in Set(shards.values).sorted() {
        guard !shard.contains("/"), shard != "..", shard != "." else {
          throw CheckpointError.malformedConfig(
            path: indexURL.path,
            reason: "weight_map names \(shard), which is not a file of this folder")
        }
        let shardURL = url.appendingPathComponent(shard)
        guard manager.fileExists(atPath: shardURL.path) else {
          throw CheckpointError.missingShard(index: indexURL.path, shard: shard)
        }
        opened[shard] = try SafeTensorsFile(path: shardURL.path)
      }
      for (name, shard) in shards.sorted(by: { $0.key < $1.key }) {
        let file = opened[shard]!
        guard file.tensors[name] != nil else {
          throw CheckpointError.badTensor(
            path: file.path, tensor: name,
            reason: "listed in model.safetensors.index.json but absent from the shard")
        }
        location[name] = file
      }
      for shard in opened.keys.sorted() {
        let file = opened[shard]!
        for name in file.tensors.keys.sorted() where shards[name] != shard {
          throw CheckpointError.badTensor(
            path: file.path, tensor: name,
            reason: shards[name] == nil
              ? "present in the shard but missing from model.safetensors.index.json"
              : "present in the shard but model.safetensors.index.json places it in \(shards[name]!)"
          )
        }
      }
      files = opened.keys.sorted().map { opened[$0]! }
    } else {
      let file = try SafeTensorsFile(path: url.appendingPathComponent("model.safetensors").path)
      for name in file.tensors.keys { location[name] = file }
      files = [file]
    }
    self.location = location
  }

  static func readIndex(_ indexURL: URL) throws -> [String: String] {
    try InputFile.requireRegular(indexURL.path)
    guard let data = FileManager.default.contents(atPath: indexURL.path),
      let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
      let map = object["weight_map"] as? [String: Any]
    else {
      throw CheckpointError.malformedConfig(
        path: indexURL.path, reason: "not a JSON object with a weight_map")
    }
    var shards: [String: String] = [:]
    for (name, value) in map {
      guard let shard = value as? String else {
        throw CheckpointError.malformedConfig(
          path: indexURL.path, reason: "weight_map entry \(name) is not a file name")
      }
      shards[name] = shard
    }
    return shards
  }

  public var tensorNames: [String] { location.keys.sorted() }

  public func has(_ name: String) -> Bool { location[name] != nil }

  public func file(of name: String) throws -> SafeTensorsFile {
    guard let file = location[name] else {
      throw CheckpointError.missingTensor(tensor: name, folder: url.path)
    }
    return file
  }

  public func info(_ name: String) throws -> TensorInfo { try file(of: name).info(name) }

  /// The tensor converted to Float32, after checking its shape is `shape` (when given).
  public func float(_ name: String, shape: [Int]? = nil) throws -> Tensor {
    let file = try file(of: name)
    let info = try file.info(name)
    try check(info, file: file, shape: shape)
    let out = Tensor(uninitialized: info.shape)
    let finite = Convert.toFloat(
      file.file.bytes(info.byteRange), dtype: info.dtype, into: out.pointer)
    file.release(name)
    guard finite else { throw CheckpointError.nonFinite(path: file.path, tensor: name) }
    return out
  }

  /// The tensor as bf16 (exact for BF16 checkpoints, rounded from F32 or F16 otherwise).
  public func bf16(_ name: String, shape: [Int]? = nil) throws -> BF16Tensor {
    let file = try file(of: name)
    let info = try file.info(name)
    try check(info, file: file, shape: shape)
    let out = BF16Tensor(uninitialized: info.shape)
    let finite = Convert.toBF16(
      file.file.bytes(info.byteRange), dtype: info.dtype, into: out.pointer)
    file.release(name)
    guard finite else { throw CheckpointError.nonFinite(path: file.path, tensor: name) }
    return out
  }

  func check(_ info: TensorInfo, file: SafeTensorsFile, shape: [Int]?) throws {
    guard info.dtype.isComputable else {
      throw CheckpointError.unsupportedDType(
        path: file.path, tensor: info.name, dtype: info.dtype.rawValue)
    }
    if let shape, shape != info.shape {
      throw CheckpointError.badTensor(
        path: file.path, tensor: info.name,
        reason: "shape \(info.shape) disagrees with config.json, which implies \(shape)")
    }
  }

  /// Refuses, before any work, a tensor of `names` (default: all) that is not F32, F16 or BF16
  /// (a model's weights are; an I32 tensor where floats belong is damage) or, when `values`,
  /// that holds NaN or infinite values. The values are read in place from the memory map, a
  /// chunk at a time, and the pages released after.
  public func requireSound(_ names: [String]? = nil, values: Bool) throws {
    for name in names ?? tensorNames {
      let file = try file(of: name)
      let info = try file.info(name)
      guard info.dtype.isComputable else {
        throw CheckpointError.unsupportedDType(
          path: file.path, tensor: name, dtype: info.dtype.rawValue)
      }
      guard values else { continue }
      let chunk = 16 << 20
      var start = info.byteRange.lowerBound
      while start < info.byteRange.upperBound {
        let end = min(start + chunk, info.byteRange.upperBound)
        let finite = Convert.allFinite(file.file.bytes(start..<end), dtype: info.dtype)
        file.file.release(start..<end)
        guard finite else { throw CheckpointError.nonFinite(path: file.path, tensor: name) }
        start = end
      }
    }
  }

  /// The most common dtype among the checkpoint's floating tensors (F32, F16, BF16), by bytes;
  /// ties go to the wider type.
  public var dominantDType: DType {
    var bytes: [DType: Int] = [:]
    for file in files {
      for info in file.tensors.values where info.dtype.isComputable {
        bytes[info.dtype, default: 0] += info.byteRange.count
      }
    }
    var best = DType.F32
    var bestBytes = -1
    for dtype in [DType.F32, .BF16, .F16] where (bytes[dtype] ?? -1) > bestBytes {
      best = dtype
      bestBytes = bytes[dtype]!
    }
    return best
  }
}
