import Checkpoint
import Foundation
import Models
import Tensors

/// One decoder layer of the model's own architecture takes the place of a block of n + 1
/// layers and is trained with the request's `TrainingObjective`, from the best of its
/// initialisations; with `attentionOff` (`ffn`) its attention is switched off, so it is the
/// layer's MLP with its residual and only the MLP trains. It overwrites the block's first layer
/// (and, with `--heal-neighbors`, the layers beside the block).
struct TrainedLayerReplacement: Replacement {
  let kind: ReplacementKind
  let attentionOff: Bool

  var takesLayerPlace: Bool { true }
  var earliestStart: Int { 0 }
  func hostLayer(start: Int) -> Int? { start }
  var compensates: Bool { true }
  var candidateCompensation: CandidateCompensation { .linearMap }
  var isTrained: Bool { true }
  var switchesAttentionOff: Bool { attentionOff }
  var needsTrainingSequences: Bool { true }
  var takesScatteredLayers: Bool { false }

  /// The block input; its output too when the initialisation fits the linear map
  /// (`--init linear|auto`); and the input of the layer before the block when it heals.
  func states(start: Int, end: Int, layers: Int, options: TrainingOptions) -> [Int] {
    let healed = Self.healedNeighbors(start: start, end: end, layers: layers, options: options)
    return [start] + (Self.fitsLinearMap(options.initialization) ? [end] : [])
      + (healed.before.map { [$0] } ?? [])
  }

  /// The source layers `--heal-neighbors` trains beside the replacement of `start..<end`: the
  /// one before the block (when there is one), and the one after it (when there is one and the
  /// loss reaches it: `lm`, `kd`).
  static func healedNeighbors(start: Int, end: Int, layers: Int, options: TrainingOptions)
    -> (before: Int?, after: Int?)
  {
    guard options.healNeighbors else { return (nil, nil) }
    return (
      start > 0 ? start - 1 : nil, options.loss.throughTop && end < layers ? end : nil
    )
  }

  /// Whether the initialisation needs the block output h_end of the training sequences.
  static func fitsLinearMap(_ initialization: ReplacementInit) -> Bool {
    initialization == .linear || initialization == .auto
  }

  func make(_ context: ReplacementContext) throws -> ReplacementPart {
    let (folder, config, store, options) = (
      context.folder, context.config, context.store!, context.options
    )
    let (start, end, lengths) = (context.start, context.end, context.lengths)
    let objective = options.loss.objective
    let load = { (index: Int) in try config.loadLayer(index, from: folder, precision: .f32) }
    let healed = Self.healedNeighbors(
      start: start, end: end, layers: config.numLayers, options: options)
    let neighbors =
      try healed.before == nil && healed.after == nil
      ? nil
      : HealedNeighbors(
        before: healed.before.map(load), after: healed.after.map(load),
        rateScale: options.healRateScale)
    let topStart = healed.after.map { $0 + 1 } ?? end
    let top =
      objective.throughTop
      ? try frozenTop(from: topStart, context: context, objective: objective, load: load) : nil
    /// With attention off (`ffn`) the layer becomes x + MLP(x): its trainable subset, the MLP.
    func switchedOff(_ layer: any DecoderLayer) throws -> [Int]? {
      guard attentionOff else { return nil }
      guard let switching = layer as? any AttentionSwitching else {
        throw CompressionError.attentionCannotSwitchOff(
          reason: layer.reasonLacking(
            .attentionSwitching, otherwise: "which \(config.modelType) layers cannot"))
      }
      return switching.switchOffAttention()
    }
    // The earlier replacements above the block train again with it (their inputs change once it
    // goes), reached through the loss at the model's output; each as it was made.
    let above = Dictionary(
      uniqueKeysWithValues: try context.request.earlierReplacements.filter {
        top != nil && $0 >= topStart
      }.map { index in
        let layer = try load(index)
        return (index - topStart, (layer: layer, trainable: try switchedOff(layer)))
      })
    let data = TrainingData(
      lengths: lengths, inputs: store.pointer(state: start),
      targets: store.contains(end) ? store.pointer(state: end) : nil,
      tokens: context.training, width: config.hiddenSize,
      teacher: store.contains(config.numLayers) ? store.pointer(state: config.numLayers) : nil,
      preceding: healed.before.map { store.pointer(state: $0) })
    let (trainSet, validationSet) = try ReplacementTrainer.split(
      lengths.count, fraction: options.validationFraction, seed: options.seed)

    /// The replacement layer initialised as `initialization`, with its trainable subset.
    var mergeWeights: [Double]?
    func candidate(_ initialization: ReplacementInit) throws -> (any DecoderLayer, [Int]?) {
      let layer = try load(start)
      if initialization == .merge {
        let block = [layer] + (try ((start + 1)..<end).map(load))
        let weights = ReplacementInitialization.mergeWeights(
          layers: block, data: data, sequences: validationSet)
        mergeWeights = weights
        ReplacementInitialization.merge(block, weights: weights)
      }
      let trainable = try switchedOff(layer)
      if initialization == .linear {
        // Fitted after attention is switched off, so the map fits the layer as it will run.
        try ReplacementInitialization.foldLinearMap(
          into: layer, data: data, targets: data.targets!, sequences: trainSet,
          modelType: config.modelType)
      }
      return (layer, trainable)
    }

    let requested = options.initialization
    var scored: [String: Double] = [:]
    var chosen = requested
    var picked: (any DecoderLayer, ReplacementTrainer)?
    // `auto` leaves out `linear` for a family whose MLP output cannot take the map (Gemma's
    // post-feed-forward norm); asked for by name, it is refused with the reason.
    let canFold = try requested != .auto || load(start) is any MLPOutputFolding
    let kinds =
      requested == .auto
      ? ReplacementInit.candidates.filter { $0 != .linear || canFold } : [requested]
    for initialization in kinds {
      let (layer, trainable) = try candidate(initialization)
      let trainer = try ReplacementTrainer(
        layer: layer, trainable: trainable, data: data, options: options, top: top,
        neighbors: neighbors, above: above)
      if requested == .auto {
        let loss = try trainer.validationLoss()
        scored[initialization.rawValue] = loss
        if picked == nil || loss < scored[chosen.rawValue]! {
          (picked, chosen) = ((layer, trainer), initialization)
        }
      } else {
        picked = (layer, trainer)
      }
    }
    let (layer, trainer) = picked!
    var report = try trainer.train(progress: context.progress("training the replacement"))
    if requested != .auto { scored[chosen.rawValue] = report.initialValidation }
    report.initialization = InitializationReport(
      requested: requested, chosen: chosen, validation: scored,
      mergeWeights: chosen == .merge || scored["merge"] != nil ? mergeWeights : nil)
    if options.healNeighbors {
      report.healedLayers = [healed.before, healed.after].compactMap { $0 }
    }
    var written: [(Int, any DecoderLayer)] = [(start, layer)]
    if let index = healed.before, let before = neighbors?.before {
      written.append((index, before))
    }
    if let index = healed.after, let after = neighbors?.after { written.append((index, after)) }
    if !above.isEmpty {
      report.trainedAbove = above.keys.sorted().map { $0 + topStart }
      written += above.map { ($0.key + topStart, $0.value.layer) }
    }
    return ReplacementPart(
      removed: Array((start + 1)..<end), overrides: try Self.overrides(written, context: context),
      training: report)
  }

  /// The frozen layers from `first` up and the head, through which a loss at the model's
  /// output trains: held in memory when their Float32 weights fit `frozenWeightBytes`, else
  /// read from the checkpoint whenever they run.
  func frozenTop(
    from first: Int, context: ReplacementContext, objective: any TrainingObjective,
    load: @escaping (Int) throws -> any DecoderLayer
  ) throws -> FrozenTop {
    let (folder, config) = (context.folder, context.config)
    let count = config.numLayers - first
    let head = try config.loadHead(from: folder, precision: .f32)
    // The teacher's logits are only ever a forward, so they run in the model's precision
    // (bf16 halves their cost where it is native); the student's head is backpropagated
    // through and stays Float32.
    let teacherHead =
      objective.needsTeacherHead
      ? try config.loadHead(from: folder, precision: context.precision) : nil
    let (weightBytes, overflow) = count.multipliedReportingOverflow(
      by: config.parametersPerLayer * MemoryLayout<Float>.size)
    return !overflow && weightBytes <= context.options.frozenWeightBytes
      ? FrozenTop(
        layers: try (first..<config.numLayers).map(load), head: head, teacherHead: teacherHead)
      : FrozenTop(
        count: count, load: { try load(first + $0) }, head: head, teacherHead: teacherHead)
  }

  /// Every parameter of the trained layers, written over the source layer it trained in.
  static func overrides(_ written: [(Int, any DecoderLayer)], context: ReplacementContext) throws
    -> [String: Surgery.Override]
  {
    try Surgery.overrides(writing: written, over: context.folder, config: context.config)
  }

  func describe(_ record: PruneRecord) -> String {
    var text =
      "; layers \(record.start)–\(record.end - 1) replaced by one trained \(attentionOff ? "MLP" : "decoder layer")"
    guard let training = record.training else { return text }
    text += String(
      format: "\nvalidation %@: %.6f at the start, %.6f best (step %d of %d)",
      training.options.loss.rawValue, training.initialValidation, training.bestValidation,
      training.bestStep, training.steps)
    if let initialization = training.initialization {
      text += "\ninitialisation \(initialization.chosen.rawValue)"
      if initialization.validation.count > 1 {
        text +=
          " (validation "
          + initialization.validation.sorted { $0.key < $1.key }.map {
            String(format: "%@ %.6f", $0.key, $0.value)
          }.joined(separator: ", ") + ")"
      }
    }
    if let plain = training.plainRemovalValidation {
      text += String(format: "; plain removal %.6f", plain)
    }
    text += String(format: "; %.0f tokens/s", training.tokensPerSecond)
    if let healed = training.healedLayers, !healed.isEmpty {
      text += "\nhealed beside it: layers \(healed.map(String.init).joined(separator: " and "))"
    }
    return text
  }
}
