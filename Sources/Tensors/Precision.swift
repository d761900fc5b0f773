import CDNNL

/// The arithmetic the matrix products use: the one precision type, from the CLI's
/// `--precision` down to the operands handed to oneDNN.
public enum Precision: String, Sendable, CaseIterable, Codable {
  /// Float32 everywhere: what parity with `transformers` is measured in.
  case f32
  /// bf16 weights and bf16 matrix-product operands with Float32 accumulation; everything else
  /// (norms, softmax, residual stream) stays Float32, as PyTorch's bf16 CPU path does.
  case bf16

  /// What products asked for in this precision actually run in on this CPU: bf16 only where
  /// oneDNN runs it natively. oneDNN 2.x has no bf16 matmul below AVX-512 (it refuses the
  /// primitive), and an emulated one would be slower than Float32 anyway, so elsewhere bf16
  /// requests compute in Float32, bf16 weights widened exactly when a layer is loaded.
  public var effective: Precision {
    self == .bf16 && !CPU.nativeBF16 ? .f32 : self
  }
}

/// What this CPU runs, as oneDNN sees it, decided once per process.
///
/// oneDNN honours `ONEDNN_MAX_CPU_ISA` (e.g. `AVX2`), so an AVX-512 machine can compute exactly
/// as an AVX2-only one does; everything here follows that cap.
public enum CPU {
  /// The instruction set oneDNN dispatches to, in oneDNN's own words (`avx2`,
  /// `avx512_core_bf16`, ...): recorded in manifests so two runs can be compared honestly.
  public static let isa: String = name(of: dnnl_get_effective_cpu_isa())

  /// Whether bf16 matrix products are native here (AVX-512 BF16 or AMX). The ISA values are
  /// bit sets, not an order: AVX2-VNNI's value is larger than AVX-512 BF16's.
  public static let nativeBF16: Bool = {
    let isa = dnnl_get_effective_cpu_isa().rawValue
    let bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
    return isa & bf16 == bf16
  }()

  /// Whether oneDNN has at least AVX2 here: what Streamline is built and tested for.
  public static let hasAVX2: Bool = {
    let isa = dnnl_get_effective_cpu_isa().rawValue
    let avx2 = dnnl_cpu_isa_avx2.rawValue
    return isa & avx2 == avx2
  }()

  static func name(of isa: dnnl_cpu_isa_t) -> String {
    switch isa {
    case dnnl_cpu_isa_sse41: return "sse41"
    case dnnl_cpu_isa_avx: return "avx"
    case dnnl_cpu_isa_avx2: return "avx2"
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic"
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops"
    case dnnl_cpu_isa_avx512_core: return "avx512_core"
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
    default: return "isa 0x\(String(isa.rawValue, radix: 16))"
    }
  }
}
