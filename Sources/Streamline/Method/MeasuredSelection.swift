import Evaluation
import Foundation
import Models

/// Blocks chosen by measured loss: the best `request.candidates` blocks by similarity and the
/// last block before the final layer (reverse order), each
/// compensated with the training-free map (folded into the layer before the block, or, for a
/// replacement layer, into the block's first layer as `--init linear` starts it; where the
/// family's MLP output cannot take the map (Gemma's post-feed-forward norm), the map acts on
/// the residual stream after that layer, in memory; nothing for plain removal, whose candidates
/// are measured as they would be written), and the one whose model is closest to the original,
/// by mean KL on the scored sequences, is kept.
enum MeasuredSelection {
  static func choose(
    from analysis: Analysis, model: DecoderModel, scoring: [[Int]], training: [[Int]],
    request: CompressionRequest, progress: (String) -> Progress
  ) throws -> Analysis {
    let replacement = request.replacement.implementation
    let ranked = Importance.ranked(
      analysis.blocks, by: analysis.metric == .angular ? .angular : .cosine)
    var candidates = Array(ranked.prefix(request.candidates))
    // Reverse order (the block ending before the final layer) is a candidate of its own: once
    // healed, removing the last layers is a strong baseline ("Reassessing Layer Pruning",
    // ICLR 2026), whatever its similarity.
    if let last = analysis.blocks.first(where: { $0.end == model.config.numLayers - 1 }),
      !candidates.contains(last)
    {
      candidates.append(last)
    }
    let original = request.teacher?.model ?? model
    let reference = try ReferenceDistributions(
      model: original, windows: scoring.map { TextWindow(wholeSequence: $0) },
      memoryBudget: request.memoryBudget)

    // The map of each candidate follows layer `fold` (folded into it where it can be) and
    // reproduces state `end`.
    let compensated = replacement.candidateCompensation == .linearMap
    let folds = try compensated && LinearMap.reasonCannotFold(model) == nil
    let fold = { (block: BlockScore) in replacement.hostLayer(start: block.start)! }
    var inputs: StateStore?
    var targets: StateStore?
    let lengths = training.map(\.count)
    var fitting: [Int] = []
    if compensated {
      let rows = lengths.reduce(0, +)
      let width = model.config.hiddenSize
      // A residual map reads the folding layer's output, the state after it.
      let inputStates = Set(candidates.map { fold($0) + (folds ? 0 : 1) }).sorted()
      let targetStates = Set(candidates.map(\.end)).sorted()
      if let teacher = request.teacher {
        // The inputs come from the model pruned so far, the targets from the original.
        let own = try StateStore(
          states: inputStates, rows: rows, width: width,
          memoryLimit: request.trainingMemory / 2, directory: request.spillDirectory)
        let taught = try StateStore(
          states: targetStates, rows: rows, width: width,
          memoryLimit: request.trainingMemory / 2, directory: request.spillDirectory)
        try StateCapture.run(
          model: model, sequences: training, into: own, memoryBudget: request.memoryBudget,
          progress: progress("capturing states for the candidates"))
        try StateCapture.run(
          model: teacher.model, sequences: training, into: taught,
          states: Dictionary(uniqueKeysWithValues: targetStates.map { (teacher.state($0), $0) }),
          memoryBudget: request.memoryBudget,
          progress: progress("capturing the original's states for the candidates"))
        (inputs, targets) = (own, taught)
      } else {
        // The model is the original: one pass captures inputs and targets.
        let store = try StateStore(
          states: Set(inputStates + targetStates).sorted(), rows: rows, width: width,
          memoryLimit: request.trainingMemory, directory: request.spillDirectory)
        try StateCapture.run(
          model: model, sequences: training, into: store, memoryBudget: request.memoryBudget,
          progress: progress("capturing states for the candidates"))
        (inputs, targets) = (store, store)
      }
      fitting = try ReplacementTrainer.split(
        training.count, fraction: request.training.validationFraction,
        seed: request.training.seed
      ).train
    }

    var models: [CandidateModel] = []
    for block in candidates {
      var substitutes: [Int: any DecoderLayer] = [:]
      var skipped = block.start..<block.end
      if let inputs, let targets {
        let index = fold(block)
        substitutes[index] =
          folds
          ? try LinearMap.folded(
            into: index, end: block.end, model: model, inputs: inputs, targets: targets,
            lengths: lengths, fitting: fitting)
          : try LinearMap.residual(
            after: index, end: block.end, model: model, inputs: inputs, targets: targets,
            lengths: lengths, fitting: fitting)
        skipped = (index + 1)..<block.end
      }
      let layers = (0..<model.config.numLayers).filter { !skipped.contains($0) }
      models.append(CandidateModel(model, layers: layers, substitutes: substitutes))
    }
    let measuring = progress("measuring candidate blocks")
    let losses = try reference.measure(models) { measuring.update($0, of: $1) }
    let measured = zip(candidates, losses).map { block, loss in
      MeasuredBlock(
        start: block.start, end: block.end, cosine: block.cosine, angular: block.angular,
        compensation: !compensated ? "none" : folds ? "linear" : "residual",
        kl: loss.kl, perplexity: loss.perplexity)
    }
    // The lowest KL; on a tie, the better by similarity.
    let best = measured.indices.min { (measured[$0].kl, $0) < (measured[$1].kl, $1) }!
    var chosen = analysis
    chosen.chosen = ChosenBlock(
      start: measured[best].start, end: measured[best].end,
      layers: Array(measured[best].start..<measured[best].end))
    chosen.selection = .measured
    chosen.measured = measured
    return chosen
  }
}
