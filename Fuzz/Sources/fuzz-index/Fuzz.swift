import Checkpoint
import Foundation
import FuzzSupport

/// A sharded model folder whose `model.safetensors.index.json` is the input; the shards are two
/// small valid files, so the index's names, shard names and cross-checks are what is fuzzed.
let folder: URL = {
  let url = Scratch.folder.appendingPathComponent("model")
  try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  Scratch.write(Data("{}".utf8), "config.json", in: url)
  for (shard, names) in [("a.safetensors", ["x", "y"]), ("b.safetensors", ["z"])] {
    Scratch.write(safetensors(names), shard, in: url)
  }
  return url
}()

/// A valid file of one-element F32 tensors named `names`.
func safetensors(_ names: [String]) -> Data {
  let entries = names.enumerated().map { i, name in
    "\"\(name)\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\(4 * i),\(4 * i + 4)]}"
  }
  var header = Array("{\(entries.joined(separator: ","))}".utf8)
  while header.count % 8 != 0 { header.append(0x20) }
  var data = Data()
  withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
  data.append(contentsOf: header)
  data.append(Data(repeating: 0, count: 4 * names.count))
  return data
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  Scratch.write(Data(bytes: start, count: count), "model.safetensors.index.json", in: folder)
  guard let model = try? ModelFolder(url: folder) else { return 0 }
  for name in model.tensorNames { _ = try? model.float(name) }
  return 0
}

@_cdecl("fuzz_index_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt
{
  runFuzzer(argc, argv, fuzz)
}
