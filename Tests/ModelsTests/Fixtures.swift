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

  /// How far two Float32 computations of the same values may be apart when they run different
  /// kernels (another row count, chunking or instruction set: oneDNN's AVX2 products round
  /// differently with the row count, and even with a row's position inside one product), as a
  /// fraction of the values' scale.
  ///
  /// Derivation: two summation orders of a length-k dot product differ by at most
  /// 2·γ_k·Σ|aᵢbᵢ|, γ_k = k·u/(1 − k·u), u = 2⁻²⁴ (Higham, Accuracy and Stability of Numerical
  /// Algorithms, §3.1). The fixtures' products have k ≤ 128 and Σ|aᵢbᵢ| within a few times the
  /// result's scale, so one product differs by at most about 2·128·6e-8·4 ≈ 6e-5 of it in the
  /// worst case and by √k·u ≈ 7e-7 typically (errors of random sign add as a random walk); a
  /// layer chains a few products and norms. 1e-5 holds the typical case with a wide margin
  /// (observed: 2e-7 with AVX2, 0 with AVX-512) and still catches any real difference, which
  /// changes values at the scale of 1e-3 or more.
  static let kernelTolerance: Float = 1e-5

  /// Whether `a` and `b` agree within `kernelTolerance` of their scale (largest magnitude, or 1).
  static func agreeAcrossKernels(_ a: [Float], _ b: [Float]) -> Bool {
    let scale = max(1, (a + b).map(abs).max() ?? 0)
    return maxDifference(a, b) <= kernelTolerance * scale
  }
}
