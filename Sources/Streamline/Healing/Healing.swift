import Checkpoint
import Foundation
import Models

/// Healing after pruning: the pruned model, replacement and all, distils from the original on
/// sequences of its own, so that the layers around the removed block adapt to its absence
/// instead of the replacement alone learning to stand in for it.
///
/// The pruned model is read back from a scratch checkpoint beside the output (exactly as the
/// output will hold it); the states healing needs are captured in one pass each (the input of
/// the lowest layer that trains, from the pruned model; the final state of the original, the
/// teacher); the layers that train run as the trainer's stages, the highest of them inside its
/// top, with the loss at the model's output; the best weights on the held-out split are kept,
/// the pruned model as it was among them, and written over the plan's tensors.
enum Healing {
  static func heal(
    _ plan: CompressionPlan, original: DecoderModel, sequences: [[Int]],
    options: HealingOptions, request: CompressionRequest, progress: (String) -> Progress
  ) throws -> CompressionPlan {
    guard let folder = original.folder else { preconditionFailure("healing reads checkpoints") }
    guard sequences.count >= 2 else {
      throw CompressionError.tooFewHealingSequences(sequences.count)
    }
    let config = original.config
    let scratch = request.spillDirectory.appendingPathComponent(
      "streamline-heal-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: scratch) }
    _ = try Surgery.write(
      source: folder, config: config, removing: plan.removed, overrides: plan.overrides,
      manifest: [:], to: scratch)
    let pruned = try DecoderModel(url: scratch, precision: original.precision)
    let prunedFolder = pruned.folder!
    let gone = Set(plan.removed)
    // The original layer each layer of the pruned model is (a replacement by its host).
    let sourceLayers = (0..<config.numLayers).filter { !gone.contains($0) }
    let count = sourceLayers.count
    let first = options.scope == .last ? max(0, count - options.lastLayers) : 0

    var capture = request
    capture.teacher = Teacher(model: original, sourceLayers: sourceLayers)
    let captured = try StateCapture.capture(
      [first, count], model: pruned, sequences: sequences, request: capture,
      targetsFrom: count, progress: progress)!
    let store = captured.store
    let layers = try (first..<count).map {
      try pruned.config.loadLayer($0, from: prunedFolder, precision: .f32)
    }
    // An MLP replacement keeps its attention switched off: only its MLP heals.
    let mlpOnly =
      request.replacement.implementation.switchesAttentionOff ? Set(plan.hosts) : []
    let trainable = layers.indices.map { i -> [Int]? in
      guard mlpOnly.contains(sourceLayers[first + i]) else { return nil }
      guard let switching = layers[i] as? any AttentionSwitching else {
        preconditionFailure("an ffn replacement's layer switches its attention off")
      }
      return switching.switchOffAttention()
    }
    let data = TrainingData(
      lengths: sequences.map(\.count), inputs: store.pointer(state: first), targets: nil,
      tokens: sequences, width: config.hiddenSize, teacher: store.pointer(state: count))
    let top = FrozenTop(
      layers: Array(layers.dropFirst()),
      head: try pruned.config.loadHead(from: prunedFolder, precision: .f32),
      teacherHead: try config.loadHead(from: folder, precision: original.precision))
    let above = Dictionary(
      uniqueKeysWithValues: layers.indices.dropFirst().map {
        ($0 - 1, (layer: layers[$0], trainable: trainable[$0]))
      })
    let trainer = try ReplacementTrainer(
      layer: layers[0], trainable: trainable[0], data: data, options: options.training,
      top: top, above: above, adapters: options.scope == .lora ? options.adapters : nil)
    let training = try trainer.train(progress: progress("healing"))

    let healed = layers.indices.map { (sourceLayers[first + $0], layers[$0]) }
    var result = plan
    result.overrides.merge(
      try Surgery.overrides(writing: healed, over: folder, config: config)
    ) { _, healed in healed }
    result.healing = HealingReport(
      scope: options.scope, layers: healed.map(\.0),
      adapters: options.scope == .lora ? options.adapters : nil, sequences: sequences.count,
      tokens: store.rows, capture: captured.report, training: training)
    return result
  }
}
