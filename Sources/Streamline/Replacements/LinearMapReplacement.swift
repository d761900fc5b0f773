import Checkpoint
import Foundation
import Models
import Tensors

/// Training-free (ReplaceMe): the block's n layers go and the least-squares linear map from the
/// MLP output of the layer before the block to what the block added is folded into that
/// layer's MLP output projection; no parameters are added.
struct LinearMapReplacement: Replacement {
  var takesLayerPlace: Bool { false }
  /// The map folds into the layer before the block.
  var earliestStart: Int { 1 }
  func hostLayer(start: Int) -> Int? { start - 1 }
  var compensates: Bool { true }
  var candidateCompensation: CandidateCompensation { .linearMap }
  var isTrained: Bool { false }
  var switchesAttentionOff: Bool { false }
  var needsTrainingSequences: Bool { true }
  var takesScatteredLayers: Bool { false }

  /// The input of the layer before the block, and the block's output.
  func states(start: Int, end: Int, layers: Int, options: TrainingOptions) -> [Int] {
    [start - 1, end]
  }

  func make(_ context: ReplacementContext) throws -> ReplacementPart {
    let (folder, config, store) = (context.folder, context.config, context.store!)
    let (start, end, lengths) = (context.start, context.end, context.lengths)
    let loaded = try config.loadLayer(start - 1, from: folder, precision: .f32)
    let before = try LinearMap.folding(
      loaded,
      otherwise: "\(config.modelType) layers do not add it straight into the residual stream",
      refusal: CompressionError.mapCannotFoldBeforeBlock)
    let (trainSet, validationSet) = try ReplacementTrainer.split(
      lengths.count, fraction: context.options.validationFraction, seed: context.options.seed)
    let inputs = store.pointer(state: start - 1)
    let targets = store.pointer(state: end)
    let map = try LinearMap.fit(
      layer: before, inputs: inputs, targets: targets, lengths: lengths, sequences: trainSet)
    // Validation: ‖m·T − y‖² against plain removal's ‖h_i − h_i+n‖², per element.
    let held = LinearMap.pairs(
      layer: before, inputs: inputs, targets: targets, lengths: lengths,
      sequences: validationSet, plain: true)
    let mapped = map.applied(to: held.m)
    var fitted = 0.0
    var plain = 0.0
    for i in 0..<mapped.count {
      fitted += Double(mapped.data[i] - held.y.data[i]) * Double(mapped.data[i] - held.y.data[i])
      plain += Double(held.plain!.data[i]) * Double(held.plain!.data[i])
    }
    // The checkpoint's own projection is folded, so the written tensor is exactly Tᵀ·W of it.
    let c = config.hiddenSize
    let projection = before.mlpOutputProjection
    let weightName = config.layerPrefix(start - 1) + projection.weight
    let biasName = projection.bias.map { config.layerPrefix(start - 1) + $0 }
    let weight = try folder.float(weightName, shape: [c, try folder.info(weightName).shape[1]])
    let bias = try biasName.map { try folder.float($0, shape: [c]) }
    let (folded, foldedBias) = map.folded(into: weight, bias: bias)
    var overrides: [String: Surgery.Override] = [:]
    let weightType = try folder.info(weightName).dtype
    overrides[weightName] = { try WritableTensor($0, folded, as: weightType) }
    if let foldedBias, let biasName {
      let biasType = try folder.info(biasName).dtype
      overrides[biasName] = { try WritableTensor($0, foldedBias, as: biasType) }
    }
    return ReplacementPart(
      removed: Array(start..<end), overrides: overrides,
      linearFit: [
        "validation_mse": fitted / Double(max(1, mapped.count)),
        "plain_removal_validation_mse": plain / Double(max(1, mapped.count)),
        "fit_rows": Double(map.rows),
      ])
  }

  func describe(_ record: PruneRecord) -> String {
    var text =
      "; layers \(record.start)–\(record.end - 1) removed, a linear map folded into layer \(record.start - 1)"
    if let linearFit = record.linearFit {
      text += String(
        format: "\nvalidation MSE %.6f (plain removal %.6f)", linearFit["validation_mse"] ?? .nan,
        linearFit["plain_removal_validation_mse"] ?? .nan)
    }
    return text
  }
}
