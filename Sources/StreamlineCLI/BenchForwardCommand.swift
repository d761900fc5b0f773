import ArgumentParser
import Checkpoint
import Foundation
import Models
import Streamline
import Tensors

struct BenchForward: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "forward",
    abstract: "Time a forward pass of random weights beside one large matrix product.")

  @Option(help: "A config.json giving the shape (default: TinyLlama-1.1B's).")
  var config: String?

  @Option(help: "Sequences per forward.")
  var batch = 4

  @Option(name: .customLong("seq-len"), help: "Tokens per sequence.")
  var seqLen = 512

  @Option(help: "f32 or bf16.")
  var precision: Precision = .f32

  @OptionGroup var output: OutputOptions

  func validate() throws {
    guard batch > 0, seqLen > 0 else {
      throw ValidationError("--batch and --seq-len must be positive")
    }
    try checkCount(batch, "--batch", in: 1...(1 << 16))
    try checkCount(seqLen, "--seq-len", in: 1...(1 << 20))
  }

  func run() throws {
    let shape = try benchmarkShape(config)
    let result = try ForwardBenchmark.run(
      config: shape, precision: precision.announced, batch: batch, length: seqLen,
      progress: Progress("layers", unit: "tokens"))
    emit(output.json ? try Format.json(result) : result.text)
  }
}
