import Checkpoint
import Foundation
import Models

/// A prune's or analysis's peak memory, estimated before any work from the model's shape and the
/// request (see `MemoryLimits`). Rough by design, on the generous side of what the run keeps:
/// the weights of two layers and the head as Float32, the hidden states scoring keeps (at most
/// the memory budget), the training states kept in memory (at most the training memory), a
/// sequence's logits and a forward's activations; address space adds the memory-mapped
/// checkpoint and the threads' stacks and malloc arenas. Healing adds the layers that heal, held
/// as Float32 with their gradients (and AdamW's two moments when they train whole), and its own
/// states.
public enum MemoryEstimate {
  public static func run(
    config: any Architecture, checkpointBytes: Int, seqLen: Int, scoring: Int, evaluation: Int,
    training: Int, healing: Int = 0, heal: HealingOptions? = nil, memoryBudget: Int,
    trainingMemory: Int
  ) -> MemoryLimits.Need {
    func product(_ factors: Int...) -> Int {
      var result = 1
      for factor in factors {
        let (value, overflow) = result.multipliedReportingOverflow(by: max(0, factor))
        if overflow { return Int.max >> 2 }
        result = value
      }
      return result
    }
    let hidden = config.hiddenSize
    let float = MemoryLayout<Float>.size
    let layers = max(1, config.numLayers)
    let tokens = product(max(scoring, evaluation, 1), seqLen)
    // Two states per token (a block's input and output) while scoring, capped by the budget.
    let states = min(product(tokens, hidden, float, 2), memoryBudget)
    let trainingStates = min(product(training, seqLen, hidden, float, 2), trainingMemory)
    let layerWeights = product(
      max(1, checkpointBytes - product(config.vocabSize, hidden, 2)) / layers, 2, 2)
    let head = product(config.vocabSize, hidden, float, config.tieWordEmbeddings ? 1 : 2)
    let logits = product(seqLen, config.vocabSize, float, 2)
    let activations = product(seqLen, max(hidden, config.intermediateSize), float, 8)
    var healed = 0
    if let heal {
      // Every layer may heal (the pruned model's count is not known yet: the source's bounds it).
      let count = heal.scope == .last ? min(heal.lastLayers, layers) : layers
      healed =
        product(count, config.parametersPerLayer, float, heal.scope == .lora ? 2 : 4)
        + min(product(healing, seqLen, hidden, float, 2), trainingMemory)
        + product(count, seqLen, max(hidden, config.intermediateSize), float, 8)
    }
    let resident = [
      states, trainingStates, layerWeights, head, logits, activations, healed, 64 << 20,
    ]
    .reduce(0) { $0 > Int.max >> 2 ? $0 : $0 + $1 }
    // The threads still to start (the Swift kernels' and oneDNN's, one per core each): a stack
    // each, and a malloc arena (64 MiB of address space) for the first few.
    let threads = 2 * ProcessInfo.processInfo.activeProcessorCount
    let mapped = checkpointBytes + product(threads, 8 << 20) + product(min(threads, 4), 64 << 20)
    return MemoryLimits.Need(resident: resident, mapped: mapped)
  }
}
