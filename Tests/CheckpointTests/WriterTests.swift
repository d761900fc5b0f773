import Foundation
import Tensors
import Testing

@testable import Checkpoint

/// Values whose conversions are easy to get wrong, plus ordinary ones.
let awkwardValues: [Float] =
  [
    1, -1, 0, -0.0, .infinity, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude,
    Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000), Float(bitPattern: 0x3F80_1000),
    Float(bitPattern: 0x3380_0000), 65520, 65519, 1e-8, 3.1415927,
  ] + (0..<48).map { Float($0) * 0.173 - 4.1 }

@Suite struct WriterTests {
  let scratch = Scratch()

  func model(_ tensors: [WritableTensor], maxShardSize: Int = CheckpointWriter.defaultMaxShardSize)
    throws -> (ModelFolder, SavedCheckpoint)
  {
    let folder = scratch.folder("model-\(UUID().uuidString)")
    try Data("{}".utf8).write(to: folder.appendingPathComponent("config.json"))
    let saved = try CheckpointWriter.save(tensors, to: folder, maxShardSize: maxShardSize)
    return (try ModelFolder(url: folder), saved)
  }

  @Test(arguments: [DType.F32, .F16, .BF16])
  func roundTripInEachDType(_ dtype: DType) throws {
    let tensor = Tensor(shape: [4, 16], values: awkwardValues)
    let (model, saved) = try model([try WritableTensor("w", tensor, as: dtype)])
    #expect(saved.files == ["model.safetensors"])
    let info = try model.info("w")
    #expect(info.dtype == dtype)
    #expect(info.shape == [4, 16])
    let expected: [Float] = awkwardValues.map {
      switch dtype {
      case .BF16: return Numerics.float(fromBF16: Numerics.bf16(from: $0))
      case .F16: return Numerics.float(fromF16: Numerics.f16(from: $0))
      default: return $0
      }
    }
    // The awkward values include infinities, which loading refuses (a damaged checkpoint), so
    // the exact round trip is checked on the conversions themselves, which flag them.
    let file = try model.file(of: "w")
    let bytes = file.file.bytes(info.byteRange)
    let floats = Tensor(uninitialized: [4, 16])
    #expect(!Convert.toFloat(bytes, dtype: dtype, into: floats.pointer))
    #expect(bits(floats.toArray()) == bits(expected))
    // bf16 loading: exact for BF16, rounded from what the file holds otherwise.
    let halves = BF16Tensor(uninitialized: [4, 16])
    #expect(!Convert.toBF16(bytes, dtype: dtype, into: halves.pointer))
    #expect(
      withExtendedLifetime(halves) { Array(halves.data) }
        == expected.map { Numerics.bf16(from: $0) })
    #expect(throws: CheckpointError.nonFinite(path: file.path, tensor: "w")) {
      _ = try model.float("w", shape: [4, 16])
    }
    #expect(throws: CheckpointError.nonFinite(path: file.path, tensor: "w")) {
      _ = try model.bf16("w")
    }
    // Without them, loading gives the same values.
    let finite = awkwardValues.map { $0.isFinite && abs($0) < 65504 ? $0 : 1 }
    let (clean, _) = try self.model([
      try WritableTensor("w", Tensor(shape: [4, 16], values: finite), as: dtype)
    ])
    let cleanExpected: [Float] = finite.map {
      switch dtype {
      case .BF16: return Numerics.float(fromBF16: Numerics.bf16(from: $0))
      case .F16: return Numerics.float(fromF16: Numerics.f16(from: $0))
      default: return $0
      }
    }
    #expect(bits(try clean.float("w", shape: [4, 16]).toArray()) == bits(cleanExpected))
    let cleanHalves = try clean.bf16("w")
    #expect(
      withExtendedLifetime(cleanHalves) { Array(cleanHalves.data) }
        == cleanExpected.map { Numerics.bf16(from: $0) })
  }

  @Test func fileLayoutMatchesTheFormat() throws {
    let tensors = [
      try WritableTensor("b", shape: [3], values: [1, 2, 3], as: .BF16),
      try WritableTensor("a", shape: [2], values: [1, 2]),
      try WritableTensor("c", shape: [], values: [5]),
    ]
    let data = try SafeTensorsWriter.serialize(tensors)
    let length = Int(data[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    #expect(length % 8 == 0)
    let header = String(decoding: data[8..<(8 + length)], as: UTF8.self)
    #expect(
      header.trimmingCharacters(in: .whitespaces)
        == #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
        + #""c":{"dtype":"F32","shape":[],"data_offsets":[8,12]},"#
        + #""b":{"dtype":"BF16","shape":[3],"data_offsets":[12,18]}}"#)
    #expect(data.count == 8 + length + 18)
    #expect(try SafeTensorsWriter.fileSize(for: tensors) == data.count)
    // Writing to a file gives the same bytes as serializing.
    let path = scratch.path("layout.safetensors")
    try SafeTensorsWriter.write(tensors, to: path)
    #expect(bytes(of: path) == data)
    let file = try SafeTensorsFile(path: path)
    #expect(file.metadata == ["format": "pt"])
    #expect(file.names == ["a", "b", "c"])
  }

  /// The bytes `safetensors.torch.save_file` wrote (tools/check_safetensors_roundtrip.py): the
  /// same tensors, rebuilt here from the F32 values and raw copies, give the same file.
  @Test func sameBytesAsPythonSaveFile() throws {
    let reference = try SafeTensorsFile(
      path: fixtures.appendingPathComponent("reference.safetensors").path)
    let values = try ModelFolderless.floats(reference, "values.f32")
    var tensors = [
      try WritableTensor("values.f32", shape: [8, 8], values: values),
      try WritableTensor("values.bf16", shape: [64], values: values, as: .BF16),
      try WritableTensor("values.f16", shape: [4, 16], values: values, as: .F16),
    ]
    for name in reference.names where !name.hasPrefix("values.") {
      tensors.append(try WritableTensor(copying: name, from: reference))
    }
    #expect(tensors.count == 9)
    #expect(try SafeTensorsWriter.serialize(tensors) == bytes(of: reference.path))
    // And from the mapped F32 tensor converted while streaming.
    let path = scratch.path("converted.safetensors")
    try SafeTensorsWriter.write(
      [try WritableTensor(copying: "values.f32", from: reference, as: "v", dtype: .BF16)], to: path)
    let converted = try SafeTensorsFile(path: path)  // kept alive: bytes point into its map
    #expect([UInt8](try converted.bytes("v")) == [UInt8](try reference.bytes("values.bf16")))
  }

  /// transformers' save_pretrained(max_shard_size=4000) of a tiny Llama, re-saved from the
  /// state-dict order: every file, index included, byte for byte.
  @Test func sameShardsAsTransformersSavePretrained() throws {
    let source = fixtures.appendingPathComponent("tiny-sharded")
    let order =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: source.appendingPathComponent("state_dict_order.json")))
      as! [String: Any]
    let names = order["order"] as! [String]
    let maxShardSize = order["max_shard_size"] as! Int
    let input = try ModelFolder(url: source)
    let tensors = try names.map { try WritableTensor(copying: $0, from: input) }
    let output = try OutputFolder(
      target: scratch.url.appendingPathComponent("resaved"), inputs: [source])
    let saved = try CheckpointWriter.save(tensors, to: output.url, maxShardSize: maxShardSize)
    try output.copy(source.appendingPathComponent("config.json"))
    try output.commit()
    let written = try FileManager.default.contentsOfDirectory(atPath: output.target.path).sorted()
    let expected = try FileManager.default.contentsOfDirectory(atPath: source.path).sorted().filter
    {
      $0.hasSuffix(".safetensors") || $0.hasSuffix(".index.json")
    }
    #expect(written == (expected + ["config.json"]).sorted())
    #expect(saved.files.count == 10)
    for name in expected {
      #expect(
        bytes(of: output.target.appendingPathComponent(name).path)
          == bytes(of: source.appendingPathComponent(name).path), "\(name)")
    }
    let reread = try ModelFolder(url: output.target)
    #expect(reread.tensorNames == input.tensorNames)
    for name in names {
      #expect(try reread.bytesOf(name) == input.bytesOf(name))
    }
  }

  @Test func shardedWriteReadsBack() throws {
    // 10 tensors of 64 bytes (F32 × 16), shards of at most 150 bytes: two per shard.
    let tensors = try (0..<10).map { i in
      try WritableTensor("layer.\(i)", shape: [4, 4], values: (0..<16).map { Float(i * 16 + $0) })
    }
    let (model, saved) = try model(tensors, maxShardSize: 150)
    #expect(saved.files == (1...5).map { "model-0000\($0)-of-00005.safetensors" })
    #expect(saved.weightMap["layer.9"] == "model-00005-of-00005.safetensors")
    #expect(saved.totalSize == 640)
    #expect(saved.totalParameters == 160)
    #expect(model.files.count == 5)
    for i in 0..<10 {
      #expect(
        try model.float("layer.\(i)", shape: [4, 4]).toArray()
          == (0..<16).map { Float(i * 16 + $0) })
    }
    let index =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: model.url.appendingPathComponent("model.safetensors.index.json")))
      as! [String: Any]
    #expect((index["metadata"] as! [String: Any])["total_size"] as? Int == 640)
    #expect((index["weight_map"] as! [String: Any]).count == 10)
  }

  @Test func tensorLargerThanAShardGetsItsOwn() {
    let sizes = [6, 6, 2, 11, 6, 2, 2]
    let tensors = sizes.enumerated().map { i, size in
      try! WritableTensor(
        "t\(i)", dtype: .U8, shape: [size], bytes: [UInt8](repeating: 0, count: size))
    }
    let shards = CheckpointWriter.shards(tensors, maxShardSize: 10).map { $0.map(\.name) }
    // huggingface_hub appends the oversized tensor at once, before the shard being filled.
    #expect(shards == [["t0"], ["t3"], ["t1", "t2"], ["t4", "t5", "t6"]])
  }

  @Test func singleFileWhenEverythingFits() throws {
    let (model, saved) = try model(
      [try WritableTensor("a", shape: [2], values: [1, 2])], maxShardSize: 8)
    #expect(saved.files == ["model.safetensors"])
    #expect(
      !FileManager.default.fileExists(
        atPath: model.url.appendingPathComponent("model.safetensors.index.json").path))
  }

  @Test func rawCopyIsBitExact() throws {
    // A BF16 tensor with NaN payloads and an I64 tensor: copied, never converted.
    let weird: [UInt8] = [0x01, 0x7F, 0xC1, 0xFF, 0x80, 0x00, 0x34, 0x12]
    let source = try model([
      try WritableTensor("w", dtype: .BF16, shape: [2, 2], bytes: weird),
      try WritableTensor("ids", dtype: .I64, shape: [1], bytes: [1, 2, 3, 4, 5, 6, 7, 8]),
    ]).0
    let (copy, _) = try model([
      try WritableTensor(copying: "w", from: source, as: "renamed"),
      try WritableTensor(copying: "ids", from: source),
    ])
    #expect(try copy.info("renamed").dtype == .BF16)
    #expect(try copy.bytesOf("renamed") == weird)
    #expect(try copy.bytesOf("ids") == [1, 2, 3, 4, 5, 6, 7, 8])
  }

  @Test(arguments: [DType.F32, .F16, .BF16])
  func convertingCopy(_ from: DType) throws {
    // More elements than one streaming chunk, so conversion crosses chunk boundaries.
    let count = SafeTensorsWriter.chunkElements + 1000
    let values = (0..<count).map { Float($0 % 9973) * 0.37 - 1000 }
    let source = try model([try WritableTensor("w", shape: [count], values: values, as: from)]).0
    let original = try source.float("w").toArray()
    for to in [DType.F32, .F16, .BF16] {
      let (copy, _) = try model([try WritableTensor(copying: "w", from: source, dtype: to)])
      let expected = original.map {
        switch to {
        case .BF16: return Numerics.float(fromBF16: Numerics.bf16(from: $0))
        case .F16: return Numerics.float(fromF16: Numerics.f16(from: $0))
        default: return $0
        }
      }
      #expect(try copy.info("w").dtype == to)
      #expect(bits(try copy.float("w").toArray()) == bits(expected), "\(from) → \(to)")
    }
  }

  @Test func progressCountsEveryByte() throws {
    let tensors = try (0..<4).map {
      try WritableTensor("t\($0)", shape: [8], values: .init(repeating: 1, count: 8))
    }
    let folder = scratch.folder("progress")
    var reports: [(Int, Int)] = []
    let saved = try CheckpointWriter.save(tensors, to: folder, maxShardSize: 64) {
      reports.append(($0, $1))
    }
    #expect(saved.files.count == 2)
    #expect(reports.map(\.0) == [32, 64, 96, 128])
    #expect(reports.allSatisfy { $0.1 == 128 })
  }

  @Test func refusesToOverwriteTheFileBeingCopied() throws {
    let (source, _) = try model([try WritableTensor("w", shape: [2], values: [1, 2])])
    let path = source.files[0].path
    let before = bytes(of: path)
    expectError([path, "tensor w", "copied from this very file"]) {
      try SafeTensorsWriter.write([try WritableTensor(copying: "w", from: source)], to: path)
    }
    #expect(bytes(of: path) == before)
  }

  @Test func emptyTensors() throws {
    // Tensor storage holds one element even when empty; none of it may reach the file.
    let (model, _) = try model([
      try WritableTensor("e", Tensor(zeros: [0, 3])),
      try WritableTensor("b", BF16Tensor(uninitialized: [2, 0])),
      try WritableTensor("x", shape: [1], values: [7]),
    ])
    #expect(try model.info("e").shape == [0, 3])
    #expect(try model.info("b").byteRange.isEmpty)
    #expect(try model.float("x").toArray() == [7])
  }

  @Test func producedTensorsAndBF16Tensors() throws {
    var made = 0
    let bf = BF16Tensor(uninitialized: [3])
    for i in 0..<3 { bf.pointer[i] = Numerics.bf16(from: Float(i) + 0.5) }
    let (model, _) = try model([
      try WritableTensor("lazy", shape: [2], as: .BF16) {
        made += 1
        return Tensor(shape: [2], values: [1.5, -2])
      },
      try WritableTensor("bf", bf),
    ])
    #expect(made == 1)
    #expect(try model.float("lazy").toArray() == [1.5, -2])
    #expect(try model.float("bf").toArray() == [0.5, 1.5, 2.5])
  }

  @Test func writerRefusesInconsistentTensors() throws {
    expectError(["tensor w", "3 values", "[2, 2]"]) {
      _ = try WritableTensor("w", shape: [2, 2], values: [1, 2, 3])
    }
    expectError(["tensor w", "5 bytes", "needs 4"]) {
      _ = try WritableTensor("w", dtype: .F32, shape: [1], bytes: [1, 2, 3, 4, 5])
    }
    expectError(["tensor w", "I32"]) {
      _ = try WritableTensor("w", shape: [1], values: [1], as: .I32)
    }
    expectError(["tensor w", "invalid shape"]) {
      _ = try WritableTensor("w", shape: [-1], values: [])
    }
    let a = try WritableTensor("a", shape: [1], values: [1])
    let folder = scratch.folder("dup")
    expectError([folder.path, "tensor a", "given twice"]) {
      try CheckpointWriter.save([a, a], to: folder)
    }
    expectError(["__metadata__", "reserved"]) {
      _ = try SafeTensorsWriter.serialize([
        try WritableTensor("__metadata__", shape: [1], values: [1])
      ])
    }
    let path = scratch.path("lazy.safetensors")
    expectError([path, "tensor lazy", "declared with shape [3]", "computed with shape [2]"]) {
      try SafeTensorsWriter.write(
        [try WritableTensor("lazy", shape: [3]) { Tensor(shape: [2], values: [1, 2]) }], to: path)
    }
    #expect(!FileManager.default.fileExists(atPath: path), "a failed write leaves no partial file")
    expectError([scratch.path("no/such/folder/x.safetensors"), "cannot write"]) {
      try SafeTensorsWriter.write([a], to: scratch.path("no/such/folder/x.safetensors"))
    }
  }

  @Test func indexJSONMatchesPythonJSONDumps() {
    let saved = SavedCheckpoint(
      files: ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"],
      weightMap: [
        "b": "model-00002-of-00002.safetensors",
        "a\"é\u{1F600}": "model-00001-of-00002.safetensors",
      ],
      totalSize: 12, totalParameters: 3)
    let text = String(decoding: CheckpointWriter.indexJSON(saved), as: UTF8.self)
    #expect(
      text == """
        {
          "metadata": {
            "total_parameters": 3,
            "total_size": 12
          },
          "weight_map": {
            "a\\"\\u00e9\\ud83d\\ude00": "model-00001-of-00002.safetensors",
            "b": "model-00002-of-00002.safetensors"
          }
        }

        """)
  }

  @Test func shardNames() {
    #expect(CheckpointWriter.shardName(0, of: 1) == "model.safetensors")
    #expect(CheckpointWriter.shardName(11, of: 123) == "model-00012-of-00123.safetensors")
  }
}

/// Small reading helpers for tests.
enum ModelFolderless {
  static func floats(_ file: SafeTensorsFile, _ name: String) throws -> [Float] {
    let info = try file.info(name)
    var out = [Float](repeating: 0, count: info.elementCount)
    out.withUnsafeMutableBufferPointer {
      Convert.toFloat(try! file.bytes(name), dtype: info.dtype, into: $0.baseAddress!)
    }
    return out
  }
}

extension ModelFolder {
  func bytesOf(_ name: String) throws -> [UInt8] { [UInt8](try file(of: name).bytes(name)) }
}
