import Foundation
import Models
import Tensors

/// `streamline bench train`: replacement-layer training (AdamW) on random weights and states of
/// a given shape, timed in tokens per second: MSE on the layer alone, or (lm, kd) through
/// `frozenLayers` frozen layers and the head, as `tools/bench_train_lm_torch.py` times PyTorch;
/// with `heal`, healing's step: every layer trains (whole, or through low-rank adapters) by
/// distillation through the head, as `tools/bench_heal_torch.py` times PyTorch.
public struct TrainingBenchmark: Codable, Sendable {
  public var loss = TrainingLoss.mse
  public var frozenLayers = 0
  public var heal: HealScope?
  /// The precision of the distillation teacher's head (the only product that is forward only),
  /// as this CPU runs it.
  public var precision = Precision.f32
  public var cpuISA = CPU.isa
  public let microBatch: Int
  public let seqLen: Int
  public let steps: Int
  public let seconds: Double
  public let tokensPerSecond: Double

  enum CodingKeys: String, CodingKey {
    case steps, seconds, loss
    case frozenLayers = "frozen_layers"
    case heal
    case precision
    case cpuISA = "cpu_isa"
    case microBatch = "micro_batch"
    case seqLen = "seq_len"
    case tokensPerSecond = "tokens_per_second"
  }

  public static func run(
    config: any Architecture, microBatch: Int, length: Int, steps: Int,
    loss: TrainingLoss = .mse, frozenLayers: Int = 0, precision: Precision = .f32,
    heal: HealScope? = nil, progress: Progress? = nil
  ) throws -> TrainingBenchmark {
    let loss = heal == nil ? loss : .kd
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
    options.loss = loss
    options.microBatch = microBatch
    options.validationFraction = 1 / Double(steps + 1)
    options.validateEvery = steps + 1
    var top: FrozenTop?
    let above = (0..<(loss.throughTop ? frozenLayers : 0)).map { _ in
      config.randomLayer(precision: .f32, using: &generator)
    }
    if loss.throughTop {
      top = FrozenTop(
        layers: above,
        head: config.randomHead(precision: .f32, using: &generator),
        teacherHead: loss.objective.needsTeacherHead
          ? config.randomHead(precision: precision, using: &generator) : nil)
    }
    let tokens = (0..<sequences).map { _ in
      (0..<length).map { _ in Int(generator.next() % UInt64(config.vocabSize)) }
    }
    let trainer = try ReplacementTrainer(
      layer: layer,
      data: TrainingData(
        lengths: Array(repeating: length, count: sequences), inputs: inputs.pointer,
        targets: targets.pointer, tokens: tokens, width: config.hiddenSize,
        teacher: targets.pointer),
      options: options, top: top,
      above: heal == nil
        ? [:]
        : Dictionary(uniqueKeysWithValues: above.enumerated().map { ($0, ($1, nil)) }),
      adapters: heal == .lora ? AdapterSettings() : nil)
    let report = try trainer.train(progress: progress)
    var result = TrainingBenchmark(
      microBatch: microBatch, seqLen: length, steps: report.steps, seconds: report.seconds,
      tokensPerSecond: report.tokensPerSecond)
    result.loss = loss
    result.frozenLayers = loss.throughTop ? frozenLayers : 0
    result.heal = heal
    result.precision = precision.effective
    return result
  }

  public var text: String {
    if let heal {
      return String(
        format:
          "train    healing (%@): %d decoder layers and the head, kd, AdamW, micro-batch %d × %d tokens, %d steps\nspeed    %.1f tokens/s (%.2f s)",
        heal.rawValue, frozenLayers + 1, microBatch, seqLen, steps, tokensPerSecond, seconds)
    }
    return String(
      format:
        "train    one decoder layer, %@%@, AdamW, micro-batch %d × %d tokens, %d steps\nspeed    %.1f tokens/s (%.2f s)",
      loss.rawValue,
      loss.throughTop ? " through \(frozenLayers) frozen layers and the head" : "", microBatch,
      seqLen, steps, tokensPerSecond, seconds)
  }
}
