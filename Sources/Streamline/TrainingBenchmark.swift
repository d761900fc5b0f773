import Foundation
import Models
import Tensors

/// `streamline bench train`: replacement-layer training (MSE, AdamW) on random weights and
/// states of a given shape, timed in tokens per second.
public struct TrainingBenchmark: Codable, Sendable {
  public let microBatch: Int
  public let seqLen: Int
  public let steps: Int
  public let seconds: Double
  public let tokensPerSecond: Double

  enum CodingKeys: String, CodingKey {
    case steps, seconds
    case microBatch = "micro_batch"
    case seqLen = "seq_len"
    case tokensPerSecond = "tokens_per_second"
  }

  public static func run(
    config: any Architecture, microBatch: Int, length: Int, steps: Int, progress: Progress? = nil
  ) throws -> TrainingBenchmark {
    var generator = SplitMix(seed: 3)
    let layer = config.randomLayer(precision: .f32, using: &generator)
    let sequences = microBatch * (steps + 1)
    let rows = sequences * length
    let inputs = Tensor(uninitialized: [rows, config.hiddenSize])
    let targets = Tensor(uninitialized: [rows, config.hiddenSize])
    for i in 0..<inputs.count {
      inputs.data[i] = generator.nextSigned()
      targets.data[i] = generator.nextSigned()
    }
    var options = TrainingOptions()
    options.loss = .mse  // the benchmark times the layer itself
    options.microBatch = microBatch
    options.validationFraction = 1 / Double(steps + 1)
    options.validateEvery = steps + 1
    let trainer = try ReplacementTrainer(
      layer: layer,
      data: TrainingData(
        lengths: Array(repeating: length, count: sequences), inputs: inputs.pointer,
        targets: targets.pointer, tokens: [], width: config.hiddenSize),
      options: options)
    let report = try trainer.train(progress: progress)
    return TrainingBenchmark(
      microBatch: microBatch, seqLen: length, steps: report.steps, seconds: report.seconds,
      tokensPerSecond: report.tokensPerSecond)
  }

  public var text: String {
    String(
      format:
        "train    one decoder layer, MSE, AdamW, micro-batch %d × %d tokens, %d steps\nspeed    %.1f tokens/s (%.2f s)",
      microBatch, seqLen, steps, tokensPerSecond, seconds)
  }
}
