import Foundation
import Testing

@testable import Checkpoint

/// Crafted and damaged checkpoints: each must end in a `CheckpointError` naming the file (and the
/// tensor when there is one), never a crash or an out-of-bounds read.
@Suite struct HostileSafeTensorsTests {
  let scratch = Scratch()

  /// Writes `bytes` as a file and opens it.
  func open(_ bytes: [UInt8], name: String = "model.safetensors") throws {
    _ = try SafeTensorsFile(path: scratch.write(name, bytes))
  }

  @Test func wellFormedFileOpens() throws {
    let path = scratch.write(
      "ok.safetensors",
      handMade("{\(entry("w", shape: "[2]", 0, 8))}", data: [UInt8](repeating: 0, count: 8)))
    let file = try SafeTensorsFile(path: path)
    #expect(file.tensors["w"]?.shape == [2])
  }

  @Test func fileShorterThanTheLengthField() {
    let path = scratch.path("model.safetensors")
    expectError([path, "shorter than the 8-byte header length"]) { try open([1, 0, 0]) }
  }

  @Test func headerLengthPastTheEndOfTheFile() {
    let path = scratch.path("model.safetensors")
    expectError([path, "runs past the end", "truncated"]) {
      try open(handMade("{}", length: 1000))
    }
  }

  @Test func dataCutShort() {
    let path = scratch.path("model.safetensors")
    let header = "{\(entry("w", shape: "[4]", 0, 16))}"
    expectError([path, "tensor w", "outside", "truncated"]) {
      try open(handMade(header, data: [UInt8](repeating: 0, count: 8)))
    }
  }

  @Test(arguments: [UInt64(1) << 63, 200_000_000, UInt64.max])
  func oversizedHeaderLength(_ length: UInt64) {
    let path = scratch.path("model.safetensors")
    expectError([path, "header length \(length)", "100000000-byte limit"]) {
      try open(handMade("{}", length: length))
    }
  }

  @Test(arguments: ["{not json", "\u{FF}\u{FE}", "{\"a\":", "", "\"text\"", "4"])
  func headerNotJSON(_ header: String) {
    let path = scratch.path("model.safetensors")
    expectError([path]) { try open(handMade(header)) }
  }

  @Test(arguments: ["[1, 2]", "[]  "])
  func headerNotAnObject(_ header: String) {
    let path = scratch.path("model.safetensors")
    expectError([path, "not a JSON object"]) { try open(handMade(header)) }
  }

  @Test(arguments: [
    "[-1]", "[1.5]", "[true]", "[false, 2]", "[1.0]", "[2e0]", "[\"4\"]", "4", "null",
  ])
  func badShapeEntries(_ shape: String) {
    let path = scratch.path("model.safetensors")
    let header = "{\(entry("w", shape: shape, 0, 4))}"
    expectError([path, "tensor w", "shape"]) { try open(handMade(header, data: [0, 0, 0, 0])) }
  }

  @Test func unknownDType() {
    let path = scratch.path("model.safetensors")
    let header = "{\(entry("w", "F128", shape: "[1]", 0, 16))}"
    expectError([path, "tensor w", "unknown dtype F128"]) {
      try open(handMade(header, data: [UInt8](repeating: 0, count: 16)))
    }
  }

  @Test func missingDType() {
    let path = scratch.path("model.safetensors")
    expectError([path, "tensor w", "no dtype"]) {
      try open(handMade("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0]))
    }
  }

  @Test func offsetsBackwards() {
    let path = scratch.path("model.safetensors")
    let header = "{\(entry("w", shape: "[0]", 16, 0))}"
    expectError([path, "tensor w", "run backwards"]) {
      try open(handMade(header, data: [UInt8](repeating: 0, count: 16)))
    }
  }

  @Test(arguments: ["[0]", "[0,1,2]", "[-4,0]", "\"0,4\""])
  func offsetsNotAPair(_ offsets: String) {
    let path = scratch.path("model.safetensors")
    let header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":\(offsets)}}"
    expectError([path, "tensor w", "data_offsets"]) {
      try open(handMade(header, data: [0, 0, 0, 0]))
    }
  }

  @Test func offsetsOutsideTheFile() {
    let path = scratch.path("model.safetensors")
    let header = "{\(entry("w", shape: "[4]", 1 << 40, (1 << 40) + 16))}"
    expectError([path, "tensor w", "outside"]) {
      try open(handMade(header, data: [UInt8](repeating: 0, count: 16)))
    }
  }

  @Test func sizeDisagreesWithDTypeAndShape() {
    let path = scratch.path("model.safetensors")
    let header = "{\(entry("w", "BF16", shape: "[2,3]", 0, 24))}"
    expectError([path, "tensor w", "holds 24 bytes", "needs 12"]) {
      try open(handMade(header, data: [UInt8](repeating: 0, count: 24)))
    }
  }

  @Test func hugeShape() {
    let path = scratch.path("model.safetensors")
    let header = "{\(entry("w", shape: "[4294967296,4294967296,4294967296]", 0, 4))}"
    expectError([path, "tensor w", "too large"]) { try open(handMade(header, data: [0, 0, 0, 0])) }
  }

  @Test func overlappingTensors() {
    let path = scratch.path("model.safetensors")
    let header = "{\(entry("a", shape: "[4]", 0, 16)),\(entry("b", shape: "[4]", 8, 24))}"
    expectError([path, "tensor b", "overlap"]) {
      try open(handMade(header, data: [UInt8](repeating: 0, count: 24)))
    }
  }

  @Test func aliasedTensors() {
    let path = scratch.path("model.safetensors")
    let header = "{\(entry("a", shape: "[4]", 0, 16)),\(entry("b", shape: "[4]", 0, 16))}"
    expectError([path, "tensor b", "overlap"]) {
      try open(handMade(header, data: [UInt8](repeating: 0, count: 16)))
    }
  }

  @Test func gapBetweenTensors() {
    let path = scratch.path("model.safetensors")
    let header = "{\(entry("a", shape: "[4]", 0, 16)),\(entry("b", shape: "[4]", 20, 36))}"
    expectError([path, "tensor b", "gap of 4 bytes"]) {
      try open(handMade(header, data: [UInt8](repeating: 0, count: 36)))
    }
  }

  @Test func gapBeforeTheFirstTensor() {
    let path = scratch.path("model.safetensors")
    let header = "{\(entry("a", shape: "[4]", 8, 24))}"
    expectError([path, "tensor a", "gap of 8 bytes"]) {
      try open(handMade(header, data: [UInt8](repeating: 0, count: 24)))
    }
  }

  @Test func trailingBytes() {
    let path = scratch.path("model.safetensors")
    let header = "{\(entry("a", shape: "[4]", 0, 16))}"
    expectError([path, "4 bytes after the last tensor"]) {
      try open(handMade(header, data: [UInt8](repeating: 0, count: 20)))
    }
  }

  @Test func metadataNotStrings() {
    let path = scratch.path("model.safetensors")
    expectError([path, "__metadata__"]) { try open(handMade("{\"__metadata__\":{\"format\":1}}")) }
    expectError([path, "__metadata__"]) { try open(handMade("{\"__metadata__\":[]}")) }
  }

  @Test func entryNotAnObject() {
    let path = scratch.path("model.safetensors")
    expectError([path, "tensor w", "not an object"]) { try open(handMade("{\"w\":[1,2]}")) }
  }

  /// A header of 128 bytes puts 0x80, pickle's first opcode, in the first byte: still safetensors.
  @Test func headerLengthWithPickleLikeFirstByte() throws {
    var header = "{\(entry("w", shape: "[1]", 0, 4))}"
    header += String(repeating: " ", count: 128 - header.utf8.count)
    let path = scratch.write("model.safetensors", handMade(header, data: [0, 0, 0x80, 0x3F]))
    #expect(bytes(of: path)[0] == 0x80)
    let file = try SafeTensorsFile(path: path)
    #expect(file.tensors["w"]?.dtype == .F32)
  }

  @Test func pickleContentUnderASafetensorsName() {
    // PROTO 4, then what torch.save's pickles start with; a zip archive (torch.save's default).
    let pickle: [UInt8] = [0x80, 0x04, 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x7D, 0x94, 0x2E]
    let path = scratch.path("model.safetensors")
    expectError([path, "pickle", "safetensors"]) { try open(pickle) }
    expectError([path, "pickle"]) {
      try open([0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 30))
    }
  }

  @Test func pickleNameRefusedWithoutOpening() {
    // Refused by name: the path does not even exist, so nothing was read.
    let path = scratch.path("pytorch_model.bin")
    expectError([path, "pickle", "save_pretrained"]) { _ = try SafeTensorsFile(path: path) }
  }

  @Test func missingFile() {
    let path = scratch.path("nothing.safetensors")
    expectError([path, "cannot open"]) { _ = try SafeTensorsFile(path: path) }
  }
}

/// Damaged model folders: shards, index, config.
@Suite struct HostileFolderTests {
  let scratch = Scratch()

  /// A valid safetensors file holding F32 tensors of the given names, each of shape [2].
  func shard(_ names: [String]) -> [UInt8] {
    let tensors = names.map { try! WritableTensor($0, shape: [2], values: [1, 2]) }
    return try! SafeTensorsWriter.serialize(tensors)
  }

  func index(_ map: [String: String]) -> String {
    let entries = map.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }
    return
      "{\"metadata\": {\"total_size\": 16}, \"weight_map\": {\(entries.joined(separator: ", "))}}"
  }

  func sharded(_ map: [String: String], shards: [String: [String]]) -> URL {
    let folder = scratch.folder("model")
    scratch.write("model/config.json", "{}")
    scratch.write("model/model.safetensors.index.json", index(map))
    for (name, tensors) in shards { scratch.write("model/\(name)", shard(tensors)) }
    return folder
  }

  @Test func shardedFolderOpens() throws {
    let folder = sharded(
      ["a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"],
      shards: [
        "model-00001-of-00002.safetensors": ["a"], "model-00002-of-00002.safetensors": ["b"],
      ])
    let model = try ModelFolder(url: folder)
    #expect(model.tensorNames == ["a", "b"])
    #expect(try model.float("b", shape: [2]).toArray() == [1, 2])
  }

  @Test func missingShard() {
    let folder = sharded(
      ["a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"],
      shards: ["model-00001-of-00002.safetensors": ["a"]])
    let index = folder.appendingPathComponent("model.safetensors.index.json").path
    expectError([index, "model-00002-of-00002.safetensors", "missing"]) {
      _ = try ModelFolder(url: folder)
    }
  }

  @Test func indexNamesATensorAbsentFromItsShard() {
    let folder = sharded(
      ["a": "model-00001-of-00001.safetensors", "ghost": "model-00001-of-00001.safetensors"],
      shards: ["model-00001-of-00001.safetensors": ["a"]])
    let shard = folder.appendingPathComponent("model-00001-of-00001.safetensors").path
    expectError([shard, "tensor ghost", "absent from the shard"]) {
      _ = try ModelFolder(url: folder)
    }
  }

  @Test func shardTensorAbsentFromTheIndex() {
    let folder = sharded(
      ["a": "model-00001-of-00001.safetensors"],
      shards: ["model-00001-of-00001.safetensors": ["a", "extra"]])
    let shard = folder.appendingPathComponent("model-00001-of-00001.safetensors").path
    expectError([shard, "tensor extra", "missing from model.safetensors.index.json"]) {
      _ = try ModelFolder(url: folder)
    }
  }

  @Test func tensorInTwoShardsButIndexedOnce() {
    let folder = sharded(
      ["a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"],
      shards: [
        "model-00001-of-00002.safetensors": ["a"], "model-00002-of-00002.safetensors": ["a", "b"],
      ])
    let shard = folder.appendingPathComponent("model-00002-of-00002.safetensors").path
    expectError([shard, "tensor a", "places it in model-00001-of-00002.safetensors"]) {
      _ = try ModelFolder(url: folder)
    }
  }

  @Test func indexEscapingTheFolder() {
    let folder = sharded(["a": "../elsewhere.safetensors"], shards: [:])
    let index = folder.appendingPathComponent("model.safetensors.index.json").path
    expectError([index, "../elsewhere.safetensors", "not a file of this folder"]) {
      _ = try ModelFolder(url: folder)
    }
  }

  @Test(arguments: ["not json", "[]", "{\"weight_map\": {\"a\": 3}}", "{\"metadata\": {}}"])
  func malformedIndex(_ text: String) {
    let folder = sharded([:], shards: [:])
    let index = scratch.write("model/model.safetensors.index.json", text)
    expectError([index]) { _ = try ModelFolder(url: folder) }
  }

  @Test func damagedShardNamesTheShard() {
    let folder = sharded(
      ["a": "model-00001-of-00001.safetensors"], shards: ["model-00001-of-00001.safetensors": ["a"]]
    )
    let shard = scratch.write(
      "model/model-00001-of-00001.safetensors", handMade("{}", length: 1 << 40))
    expectError([shard, "exceeds"]) { _ = try ModelFolder(url: folder) }
    _ = folder
  }

  @Test func pytorchModelBinRefused() {
    let folder = scratch.folder("model")
    scratch.write("model/config.json", "{\"model_type\": \"llama\"}")
    let bin = scratch.write("model/pytorch_model.bin", [0x80, 0x02, 0x7D, 0x71, 0x00, 0x2E])
    let error = expectError([bin, "pickle", "never loaded", "safe_serialization=True"]) {
      _ = try ModelFolder(url: folder)
    }
    #expect(error == .pickleRefused(path: bin))
    // A pickle file given directly is refused too.
    expectError([bin, "pickle"]) { _ = try ModelFolder(url: URL(fileURLWithPath: bin)) }
  }

  @Test func emptyFolder() {
    let folder = scratch.folder("empty")
    expectError([folder.path, "no model.safetensors", "it is empty"]) {
      _ = try ModelFolder(url: folder)
    }
  }

  @Test func folderWithoutWeights() {
    let folder = scratch.folder("model")
    scratch.write("model/config.json", "{}")
    scratch.write("model/README.md", "hello")
    expectError([folder.path, "no model.safetensors", "config.json", "README.md"]) {
      _ = try ModelFolder(url: folder)
    }
  }

  @Test func folderWithoutConfig() {
    let folder = scratch.folder("model")
    scratch.write("model/model.safetensors", shard(["a"]))
    expectError([folder.appendingPathComponent("config.json").path, "no readable config.json"]) {
      _ = try ModelFolder(url: folder)
    }
  }

  @Test(arguments: [
    ("{\"hidden_size\": ", "not valid JSON"), ("[1, 2]", "not a JSON object"),
    ("", "not valid JSON"),
  ])
  func configNotJSON(_ text: String, _ reason: String) {
    let folder = scratch.folder("model")
    scratch.write("model/model.safetensors", shard(["a"]))
    let config = scratch.write("model/config.json", text)
    expectError([config, reason]) { _ = try ModelFolder(url: folder) }
  }

  @Test func folderThatDoesNotExist() {
    let missing = scratch.url.appendingPathComponent("nowhere")
    expectError([missing.path, "no such file or folder"]) { _ = try ModelFolder(url: missing) }
  }

  @Test func shapeDisagreesWithConfig() throws {
    let folder = scratch.folder("model")
    scratch.write("model/config.json", "{}")
    let file = scratch.write("model/model.safetensors", shard(["w"]))
    let model = try ModelFolder(url: folder)
    expectError([file, "tensor w", "shape [2]", "[3]"]) { _ = try model.float("w", shape: [3]) }
    expectError([file, "tensor w", "[1, 2]"]) { _ = try model.bf16("w", shape: [1, 2]) }
    expectError([folder.path, "no tensor nope"]) { _ = try model.float("nope") }
  }

  @Test func nonFloatTensorForCompute() throws {
    let folder = scratch.folder("model")
    scratch.write("model/config.json", "{}")
    let tensor = try WritableTensor(
      "ids", dtype: .I64, shape: [1], bytes: [1, 0, 0, 0, 0, 0, 0, 0])
    let file = scratch.write("model/model.safetensors", try SafeTensorsWriter.serialize([tensor]))
    let model = try ModelFolder(url: folder)
    expectError([file, "tensor ids", "dtype I64"]) { _ = try model.float("ids") }
  }
}
