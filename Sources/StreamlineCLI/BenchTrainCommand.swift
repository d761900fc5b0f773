import ArgumentParser
import Checkpoint
import Foundation
import Models
import Streamline
import Tensors

struct BenchTrain: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract:
      "Time replacement-layer training (AdamW; MSE, or lm/kd through frozen layers) on random weights of a given shape."
  )

  @Option(help: "A config.json giving the shape (default: TinyLlama-1.1B's).")
  var config: String?

  @Option(name: .customLong("micro-batch"), help: "Sequences per step.")
  var microBatch = 4

  @Option(name: .customLong("seq-len"), help: "Tokens per sequence.")
  var seqLen = 512

  @Option(help: "Optimizer steps timed.")
  var steps = 4

  @Option(help: "Loss: mse (the layer alone), lm or kd (through the frozen layers and the head).")
  var loss: TrainingLoss = .mse

  @Option(name: .customLong("frozen-layers"), help: "Frozen layers after the block (lm, kd).")
  var frozenLayers = 1

  @Option(help: "Precision of the kd teacher's head (the one forward-only product): f32 or bf16.")
  var precision: Precision = .f32

  @Option(
    help:
      "Time healing's step instead: all --frozen-layers + 1 layers train by kd, whole (all) or through rank-8 adapters (lora)."
  )
  var heal: HealScope?

  @OptionGroup var output: OutputOptions

  func validate() throws {
    try checkCount(microBatch, "--micro-batch", in: 1...(1 << 16))
    try checkCount(seqLen, "--seq-len", in: 1...(1 << 20))
    try checkCount(steps, "--steps", in: 1...(1 << 20))
    try checkCount(frozenLayers, "--frozen-layers", in: 0...(1 << 16))
  }

  func run() throws {
    let shape = try benchmarkShape(config)
    let result = try TrainingBenchmark.run(
      config: shape, microBatch: microBatch, length: seqLen, steps: steps, loss: loss,
      frozenLayers: frozenLayers, precision: precision.announced, heal: heal,
      progress: Progress("steps", unit: "tokens"))
    emit(output.json ? try Format.json(result) : result.text)
  }
}
