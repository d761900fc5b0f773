import Foundation
import Models
import Tensors

/// `streamline bench forward`: a forward pass that keeps every hidden state, timed beside one
/// large matrix product of the same precision on the same machine.
public struct ForwardBenchmark: Codable, Sendable {
  /// The precision the products ran in (`Precision.effective` of the one asked for).
  public let precision: String
  /// The instruction set oneDNN ran them with.
  public let cpuISA: String
  public let batch: Int
  public let seqLen: Int
  public let seconds: Double
  public let tokensPerSecond: Double
  public let gflops: Double
  public let matmulGflops: Double
  public let ratio: Double
  public let peakResidentBytes: Int

  enum CodingKeys: String, CodingKey {
    case precision, batch, seconds, gflops, ratio
    case seqLen = "seq_len"
    case tokensPerSecond = "tokens_per_second"
    case matmulGflops = "matmul_gflops"
    case peakResidentBytes = "peak_resident_bytes"
    case cpuISA = "cpu_isa"
  }

  /// TinyLlama-1.1B's shape.
  public static let defaultConfig = """
    {"model_type": "llama", "hidden_size": 2048, "intermediate_size": 5632,
     "num_hidden_layers": 22, "num_attention_heads": 32, "num_key_value_heads": 4,
     "vocab_size": 32000, "rms_norm_eps": 1e-5, "rope_theta": 10000.0}
    """

  /// Floating-point operations of one forward over `batch` sequences of `length` tokens:
  /// every matrix of the layers, the LM head, and causal attention (each query attends to its
  /// prefix).
  public static func flops(config: any Architecture, batch: Int, length: Int) -> Double {
    let tokens = Double(batch * length)
    let c = Double(config.hiddenSize)
    let linear = Double(config.matrixParametersPerLayer)
    let queryWidth = Double(config.numHeads * config.headDim)
    let attention = 2 * queryWidth * Double(length + 1) / 2
    let perToken =
      2 * (linear + attention) * Double(config.numLayers) + 2 * c * Double(config.vocabSize)
    return perToken * tokens
  }

  public static func run(
    config: any Architecture, precision: Precision, batch: Int, length: Int, seed: UInt64 = 0,
    progress: Progress? = nil
  ) throws -> ForwardBenchmark {
    let model = DecoderModel(randomWeights: config, precision: precision, seed: seed)
    var generator = SplitMix(seed: seed)
    let sequences = (0..<batch).map { _ in
      (0..<length).map { _ in Int(generator.next() % UInt64(config.vocabSize)) }
    }
    // Warm-up on a short batch creates the oneDNN primitives and touches every page.
    try model.forward([Array(sequences[0].prefix(16))], logits: { _, _, _ in })

    var kept: [Tensor] = []
    let start = Date()
    try model.forward(
      sequences,
      hiddenState: { _, x, _ in kept.append(x.copy()) },
      logits: { _, _, _ in },
      progress: { done, total in
        progress?.update(done, of: total, amount: Double(done * batch * length))
      })
    let seconds = Date().timeIntervalSince(start)
    let flops = flops(config: config, batch: batch, length: length)
    let matmul = matmulGflops(
      precision: precision, m: batch * length, n: config.intermediateSize,
      k: config.hiddenSize)
    let gflops = flops / seconds / 1e9
    return ForwardBenchmark(
      precision: precision.effective.rawValue, cpuISA: CPU.isa, batch: batch, seqLen: length,
      seconds: seconds,
      tokensPerSecond: Double(batch * length) / seconds, gflops: gflops, matmulGflops: matmul,
      ratio: gflops / matmul, peakResidentBytes: ResourceUsage.peakResidentBytes)
  }

  /// GFLOP/s of one `[m, k] · [n, k]ᵀ` product, best of a few runs.
  public static func matmulGflops(precision: Precision, m: Int, n: Int, k: Int) -> Double {
    var generator = SplitMix(seed: 1)
    let a = Tensor(uninitialized: [m, k])
    let w = Tensor(uninitialized: [n, k])
    for i in 0..<a.count { a.data[i] = generator.nextSigned() }
    for i in 0..<w.count { w.data[i] = generator.nextSigned() }
    let c = Tensor(uninitialized: [m, n])
    let a16 = BF16Tensor(uninitialized: a.shape)
    let w16 = BF16Tensor(uninitialized: w.shape)
    Kernels.toBF16(a.pointer, out: a16.pointer, count: a.count)
    Kernels.toBF16(w.pointer, out: w16.pointer, count: w.count)
    var best = Double.infinity
    for _ in 0..<4 {
      let start = Date()
      switch precision.effective {
      case .f32:
        MatMul.linear(a.pointer, w.pointer, c.pointer, m: m, n: n, k: k, operands: .f32)
      case .bf16:
        MatMul.linear(a16.pointer, w16.pointer, c.pointer, m: m, n: n, k: k, operands: .bf16)
      }
      best = min(best, Date().timeIntervalSince(start))
    }
    return 2 * Double(m) * Double(n) * Double(k) / best / 1e9
  }

  public var text: String {
    String(
      format: """
        forward  %@ on %@, batch %d × %d tokens, every hidden state kept
        time     %.2f s
        speed    %.1f tokens/s, %.1f GFLOP/s
        matmul   %.1f GFLOP/s (one large product, same precision, this machine)
        ratio    %.2f of the matrix-product speed
        memory   %@ peak resident
        """, precision, cpuISA, batch, seqLen, seconds, tokensPerSecond, gflops, matmulGflops,
      ratio,
      Format.bytes(peakResidentBytes))
  }
}
