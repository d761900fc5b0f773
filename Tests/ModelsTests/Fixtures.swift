import Checkpoint
import Foundation

/// The committed reference outputs of tools/make_model_fixtures.py.
enum Fixtures {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures")

  static let models = root.appendingPathComponent("models")

  static let variants = [
    "llama-gqa", "llama-tied", "llama3-rope", "llama-linear-bias", "mistral", "qwen2-bias",
    "llama-bf16", "llama-sharded", "opt-pre", "opt-post", "opt-bf16", "opt-plain", "phi3-partial",
    "phi3-longrope", "qwen3", "qwen3-tied", "qwen3-sliding", "qwen3-bf16", "mistral-window",
    "qwen2-window",
  ]

  static func model(_ name: String) -> URL { models.appendingPathComponent(name) }

  /// One variant's reference tensors and metadata.
  struct Reference {
    let file: SafeTensorsFile

    init(_ variant: String) throws {
      file = try SafeTensorsFile(
        path: Fixtures.model(variant).appendingPathComponent("reference.safetensors").path)
    }

    var sequenceCount: Int { file.tensors.keys.filter { $0.hasPrefix("tokens.") }.count }

    func tokens(_ s: Int) throws -> [Int] {
      let bytes = try file.bytes("tokens.\(s)")
      return (0..<(bytes.count / 8)).map {
        Int(bytes.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))
      }
    }

    func floats(_ name: String) throws -> [Float] {
      let info = try file.info(name)
      var out = [Float](repeating: 0, count: info.elementCount)
      out.withUnsafeMutableBufferPointer {
        Convert.toFloat(file.file.bytes(info.byteRange), dtype: info.dtype, into: $0.baseAddress!)
      }
      return out
    }

    func nll(_ s: Int) -> Double { Double(file.metadata["nll.\(s)"]!)! }
    var parameters: Int { Int(file.metadata["parameters"]!)! }
  }

  static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "sizes \(a.count) and \(b.count) differ")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
  }
}
