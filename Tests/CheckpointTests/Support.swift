import Foundation
import Testing

@testable import Checkpoint

/// A fresh folder under the system temporary folder, removed when the value goes away.
final class Scratch {
  let url: URL

  init() {
    url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "streamline-ckpt-\(UUID().uuidString)", isDirectory: true)
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(at: url) }

  func path(_ name: String) -> String { url.appendingPathComponent(name).path }

  /// Writes `bytes` as `name` and returns its path.
  @discardableResult
  func write(_ name: String, _ bytes: [UInt8]) -> String {
    let path = self.path(name)
    try! FileManager.default.createDirectory(
      at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    return path
  }

  @discardableResult
  func write(_ name: String, _ text: String) -> String { write(name, Array(text.utf8)) }

  func folder(_ name: String) -> URL {
    let folder = url.appendingPathComponent(name, isDirectory: true)
    try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
  }
}

/// A safetensors file built by hand: `header` verbatim after a length (the real one unless
/// `length` is given), then `data`.
func handMade(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
  let json = Array(header.utf8)
  var out: [UInt8] = []
  withUnsafeBytes(of: (length ?? UInt64(json.count)).littleEndian) { out.append(contentsOf: $0) }
  return out + json + data
}

/// A header entry `"name":{"dtype":…,"shape":…,"data_offsets":[b,e]}` with `shape` as raw JSON.
func entry(_ name: String, _ dtype: String = "F32", shape: String, _ begin: Int, _ end: Int)
  -> String
{
  "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(end)]}"
}

/// Runs `body`, which must throw a `CheckpointError` whose one-line description contains every
/// string of `mentions` (the file, the tensor, the reason), and returns it.
@discardableResult
func expectError(
  _ mentions: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> CheckpointError? {
  do {
    try body()
    Issue.record(
      "expected an error mentioning \(mentions), got none", sourceLocation: sourceLocation)
  } catch let error as CheckpointError {
    let text = error.description
    #expect(!text.contains("\n"), "one line: \(text)", sourceLocation: sourceLocation)
    for part in mentions {
      #expect(
        text.contains(part), "«\(text)» should mention «\(part)»", sourceLocation: sourceLocation)
    }
    return error
  } catch {
    Issue.record("expected a CheckpointError, got \(error)", sourceLocation: sourceLocation)
  }
  return nil
}

/// Tests/Fixtures/checkpoint.
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent()
  .appendingPathComponent("Fixtures/checkpoint", isDirectory: true)

func bytes(of path: String) -> [UInt8] {
  [UInt8](FileManager.default.contents(atPath: path) ?? Data())
}

/// The bit patterns of a tensor's values.
func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }
