import Foundation
import Tensors
import Testing

@testable import Checkpoint

/// Tests/Fixtures/gguf/reference.gguf, written by the `gguf` Python package
/// (tools/make_gguf_fixtures.py).
let ggufReference = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent()
  .appendingPathComponent("Fixtures/gguf/reference.gguf").path

/// The fixture's values: ((37 i + k) mod 101 − 50) · scale / 7, rounded once to Float32.
func fixtureValues(_ count: Int, _ k: Int, _ scale: Double) -> [Float] {
  (0..<count).map { i in Float(Double((37 * i + k) % 101 - 50) * scale / 7) }
}

/// The entries and tensors tools/make_gguf_fixtures.py writes, in its order.
func fixtureContents() throws -> ([GGUF.Entry], [GGUFTensor]) {
  let entries: [GGUF.Entry] = [
    .init("general.architecture", .string("llama")),
    .init("t.u8", .uint8(200)),
    .init("t.i8", .int8(-100)),
    .init("t.u16", .uint16(60000)),
    .init("t.i16", .int16(-30000)),
    .init("t.u32", .uint32(4_000_000_000)),
    .init("t.i32", .int32(-2_000_000_000)),
    .init("t.f32", .float32(0.1)),
    .init("t.bool", .bool(true)),
    .init("t.str", .string("héllo ✓ 🦙")),
    .init("t.u64", .uint64(1 << 63 + 5)),
    .init("t.i64", .int64(-(1 << 62))),
    .init("t.f64", .float64(1e-300)),
    .init("t.strings", .array(.string(["a", "", "Ġ t", "<|im_end|>"]))),
    .init("t.int32s", .array(.int32([1, -2, 3]))),
    .init("t.float32s", .array(.float32([0.5, -1.25]))),
    .init("t.bools", .array(.bool([true, false, true]))),
  ]
  var q8 = fixtureValues(3 * 64, 3, 5)
  for i in 64..<96 { q8[i] = 0 }
  let tensors = [
    try GGUFTensor("f32.weight", shape: [6, 5], type: .f32) {
      Tensor(shape: [6, 5], values: fixtureValues(30, 0, 3))
    },
    try GGUFTensor("f16.weight", shape: [4, 3], type: .f16) {
      Tensor(shape: [4, 3], values: fixtureValues(12, 1, 2))
    },
    try GGUFTensor("bf16.weight", shape: [7], type: .bf16) {
      Tensor(shape: [7], values: fixtureValues(7, 2, 100))
    },
    try GGUFTensor("q8.weight", shape: [3, 64], type: .q8_0) {
      Tensor(shape: [3, 64], values: q8)
    },
  ]
  return (entries, tensors)
}

@Suite("GGUF writer")
struct GGUFTests {
  @Test("writes the same bytes as llama.cpp's gguf package for every value and tensor type")
  func matchesPythonWriter() throws {
    let scratch = Scratch()
    let (entries, tensors) = try fixtureContents()
    let path = scratch.path("out.gguf")
    try GGUFWriter.write(entries, tensors: tensors, to: path)
    let ours = bytes(of: path)
    let theirs = bytes(of: ggufReference)
    #expect(!theirs.isEmpty)
    #expect(ours.count == theirs.count)
    if let first = zip(ours, theirs).enumerated().first(where: { $0.element.0 != $0.element.1 }) {
      Issue.record("first differing byte at \(first.offset)")
    }
    #expect(try GGUFWriter.fileSize(entries, tensors: tensors) == ours.count)
  }

  @Test("reads back what it wrote: entries, shapes, aligned offsets, values")
  func roundTrip() throws {
    let scratch = Scratch()
    let (entries, tensors) = try fixtureContents()
    let path = scratch.path("out.gguf")
    try GGUFWriter.write(entries, tensors: tensors, to: path)
    let file = try GGUFFile(path: path)
    #expect(file.entries == entries)
    #expect(file.tensors.map(\.name) == tensors.map(\.name))
    #expect(file.tensors.map(\.shape) == [[6, 5], [4, 3], [7], [3, 64]])
    #expect(file.tensors.map(\.type) == [.f32, .f16, .bf16, .q8_0])
    #expect(file.dataOffset % 32 == 0)
    #expect(file.tensors.allSatisfy { $0.offset % 32 == 0 })
    #expect(bits(file.floats(file.tensors[0])) == bits(fixtureValues(30, 0, 3)))
    // Q8_0: each value within half a step (d / 2) of the original; the zero block stays zero.
    let original = try tensors[3].produce().toArray()
    let restored = file.floats(file.tensors[3])
    for block in 0..<6 {
      let range = (block * 32)..<(block * 32 + 32)
      let amax = original[range].map(abs).max()!
      for i in range { #expect(abs(restored[i] - original[i]) <= amax / 127 / 2 * 1.01) }
    }
    #expect(restored[64..<96].allSatisfy { $0 == 0 })
  }

  @Test("Q8_0 blocks as ggml's reference: d = max|x| / 127 in float16, q = round half away")
  func q8Block() throws {
    var x = [Float](repeating: 0, count: 32)
    x[0] = 127
    x[1] = -63.5  // exactly half a step: rounds away from zero
    x[2] = 0.49
    x[3] = -127
    var out = [UInt8](repeating: 0, count: 34)
    x.withUnsafeBufferPointer { source in
      out.withUnsafeMutableBytes {
        GGUFWriter.quantizeQ8(source.baseAddress!, into: $0.baseAddress!)
      }
    }
    #expect(Numerics.float(fromF16: UInt16(out[0]) | UInt16(out[1]) << 8) == 1)
    #expect(Array(out[2..<6].map { Int8(bitPattern: $0) }) == [127, -64, 0, -127])
  }

  @Test("a failure while writing leaves no file, and an existing file untouched")
  func atomic() throws {
    struct Boom: Error {}
    let scratch = Scratch()
    let path = scratch.write("model.gguf", "old contents")
    let tensors = [
      try GGUFTensor("a.weight", shape: [2], type: .f32) { Tensor(shape: [2], values: [1, 2]) },
      try GGUFTensor("b.weight", shape: [2], type: .f32) { throw Boom() },
    ]
    #expect(throws: Boom.self) {
      try GGUFWriter.write(
        [.init("general.architecture", .string("llama"))], tensors: tensors, to: path)
    }
    #expect(String(decoding: bytes(of: path), as: UTF8.self) == "old contents")
    #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["model.gguf"])
  }

  @Test("refuses what llama.cpp could not read")
  func refusals() throws {
    #expect(throws: CheckpointError.self) {
      try GGUFTensor("q.weight", shape: [2, 33], type: .q8_0) { Tensor(zeros: [2, 33]) }
    }
    #expect(throws: CheckpointError.self) {
      try GGUFTensor(String(repeating: "x", count: 64), shape: [1], type: .f32) {
        Tensor(zeros: [1])
      }
    }
    #expect(throws: CheckpointError.self) {
      try GGUFWriter.header([.init("k", .bool(true)), .init("k", .bool(false))], tensors: [])
    }
    let scratch = Scratch()
    let wrong = try GGUFTensor("w.weight", shape: [4], type: .f32) { Tensor(zeros: [3]) }
    #expect(throws: CheckpointError.self) {
      try GGUFWriter.write([], tensors: [wrong], to: scratch.path("x.gguf"))
    }
    #expect(!FileManager.default.fileExists(atPath: scratch.path("x.gguf")))
    #expect(throws: CheckpointError.self) {
      try GGUFWriter.write([], tensors: [], to: scratch.url.path)
    }
  }
}
