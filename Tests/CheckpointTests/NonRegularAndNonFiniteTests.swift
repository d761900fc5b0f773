import Foundation
import Testing

@testable import Checkpoint

#if canImport(Glibc)
  import Glibc
#endif

/// Inputs that are not regular files (a FIFO would block the open forever) and tensors holding
/// NaN or infinities (every result computed from them would be NaN).
@Suite struct NonRegularAndNonFiniteTests {
  /// A model folder whose one tensor `w` has `values` as `dtype` bits.
  func model(_ scratch: Scratch, dtype: String, raw: [UInt8], count: Int) -> URL {
    let folder = scratch.folder("model")
    scratch.write("model/config.json", "{}")
    scratch.write(
      "model/model.safetensors",
      handMade("{\(entry("w", dtype, shape: "[\(count)]", 0, raw.count))}", data: raw))
    return folder
  }

  static func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
  }

  @Test(arguments: [
    ("F32", littleEndian([Float.nan.bitPattern, Float(1).bitPattern])),
    ("F32", littleEndian([Float(1).bitPattern, Float.infinity.bitPattern])),
    ("BF16", littleEndian([UInt16(0x3F80), 0x7FC0])),
    ("BF16", littleEndian([UInt16(0xFF80), 0x3F80])),
    ("F16", littleEndian([UInt16(0x3C00), 0x7C00])),
    ("F16", littleEndian([UInt16(0x7E00), 0x3C00])),
  ])
  func nonFiniteTensorsAreRefusedNamingTheTensor(_ dtype: String, _ raw: [UInt8]) throws {
    let scratch = Scratch()
    let folder = try ModelFolder(url: model(scratch, dtype: dtype, raw: raw, count: 2))
    expectError(["model.safetensors", "tensor w", "NaN or infinite"]) { _ = try folder.float("w") }
    expectError(["model.safetensors", "tensor w", "NaN or infinite"]) { _ = try folder.bf16("w") }
  }

  @Test func finiteTensorsStillLoad() throws {
    let scratch = Scratch()
    let raw = Self.littleEndian([Float(-2).bitPattern, Float.greatestFiniteMagnitude.bitPattern])
    let folder = try ModelFolder(url: model(scratch, dtype: "F32", raw: raw, count: 2))
    #expect(
      bits(try folder.float("w").toArray())
        == [Float(-2), .greatestFiniteMagnitude].map(\.bitPattern))
  }

  @Test(arguments: ["model.safetensors", "config.json"])
  func aFIFOInTheModelFolderIsRefusedWithoutOpeningIt(_ name: String) throws {
    let scratch = Scratch()
    let raw = Self.littleEndian([Float(1).bitPattern])
    let folder = model(scratch, dtype: "F32", raw: raw, count: 1)
    let path = folder.appendingPathComponent(name).path
    try FileManager.default.removeItem(atPath: path)
    #expect(mkfifo(path, 0o600) == 0)
    // Were the FIFO opened, this would block forever rather than fail.
    let error = #expect(throws: InputFileError.self) { _ = try ModelFolder(url: folder) }
    #expect(
      error?.description.contains("\(name): is a FIFO") == true, "\(String(describing: error))")
  }

  @Test func regularFilesAndMissingOnesPass() throws {
    let scratch = Scratch()
    try InputFile.requireRegular(scratch.write("a.txt", "x"))
    try InputFile.requireRegular(scratch.path("missing"))
    #expect(throws: InputFileError.self) { try InputFile.requireRegular(scratch.url.path) }
  }
}
