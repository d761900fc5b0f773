import Models
import Tensors

/// How a run's matrix products were computed, recorded in `streamline.json` and `--json` output
/// so that two runs on different CPUs can be compared honestly: the precision they actually ran
/// in (a bf16 request on a CPU without native bf16 runs in Float32) and the instruction set
/// oneDNN dispatched to. Training always computes in Float32; the precision applies to the
/// forward-only products (scoring, capture, the distillation teacher's head, evaluation).
public struct ComputeRecord: Codable, Sendable, Equatable {
  public let precision: Precision
  public let cpuISA: String

  enum CodingKeys: String, CodingKey {
    case precision
    case cpuISA = "cpu_isa"
  }

  /// The record of products asked for in `precision`, on this CPU.
  public init(precision: Precision) {
    self.precision = precision.effective
    cpuISA = CPU.isa
  }
}
