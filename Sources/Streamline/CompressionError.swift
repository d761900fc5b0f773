import Models

/// Requests `Compression` cannot carry out, typed so that callers can tell them apart; each
/// carries the values it is about.
///
/// The wording still names `streamline prune`'s options (it is what the user sees, unchanged);
/// it lives here, in one place, rather than at each throw, so that the command line can take it
/// over.
public enum CompressionError: Error, CustomStringConvertible, Equatable {
  /// `--blocks` below 1.
  case blocksBelowOne(Int)
  /// More than one block, with something other than scored plain removal.
  case blocksNeedScoredRemoval(blocks: Int)
  /// More blocks than layers to remove.
  case moreBlocksThanLayers(blocks: Int, layers: Int)
  /// Neighbours heal only beside a trained replacement.
  case healingNeedsTrainedReplacement
  /// A fitted or trained replacement with fewer than 2 training sequences.
  case tooFewTrainingSequences(ReplacementKind)
  /// Given layers that are not one block, for a replacement that takes one block's place.
  case scatteredBlock(ReplacementKind)
  /// A block starting at layer 0 for a replacement that folds into the layer before it.
  case noLayerBeforeBlock(ReplacementKind)
  /// Scoring statistics of another depth than the model's.
  case statisticsDepth(statistics: Int, model: Int)
  case noScoringSequences
  /// The training split needs one sequence held out and one to train.
  case tooFewSequencesToSplit(Int)
  /// The replacement's layer cannot switch its attention off (`ffn`); `reason` says why.
  case attentionCannotSwitchOff(reason: String)
  /// The layer before the block cannot take the linear map (`linear`); `reason` says why.
  case mapCannotFoldBeforeBlock(reason: String)
  /// The replacement layer cannot take the linear map (`--init linear`); `reason` says why.
  case initializationCannotFold(reason: String)
  /// A layer's parameter table lacks a tensor of its own the fold writes.
  case missingParameter(modelType: String, name: String)
  /// The MLP outputs are degenerate: no linear map can be fitted.
  case degenerateLinearFit

  public var description: String {
    switch self {
    case .blocksBelowOne(let blocks):
      "--blocks must be at least 1, not \(blocks)"
    case .blocksNeedScoredRemoval(let blocks):
      "--blocks \(blocks) rescores the pruned model after each block: it needs --replace none, scoring (not --layers) and no --stats"
    case .moreBlocksThanLayers(let blocks, let layers):
      "--blocks \(blocks) needs at least as many layers to remove, not \(layers)"
    case .healingNeedsTrainedReplacement:
      "--heal-neighbors trains the layers next to a trained replacement: it needs --replace layer or ffn"
    case .tooFewTrainingSequences(let kind):
      "--replace \(kind.rawValue) needs training sequences beyond the scored ones: give --train-samples of at least 2"
    case .scatteredBlock(let kind):
      "--replace \(kind.rawValue) needs a contiguous block of --layers"
    case .noLayerBeforeBlock(let kind):
      "--replace \(kind.rawValue) folds the map into the layer before the block; the block cannot start at layer 0"
    case .statisticsDepth(let statistics, let model):
      "the scoring statistics are of \(statistics) layers, the model has \(model)"
    case .noScoringSequences:
      "no calibration sequences to score"
    case .tooFewSequencesToSplit(let count):
      "replacement training needs at least 2 training sequences (one held out), not \(count)"
    case .attentionCannotSwitchOff(let reason):
      "--replace ffn needs a layer whose attention can be switched off: \(reason); use --replace layer"
    case .mapCannotFoldBeforeBlock(let reason):
      "--replace linear folds a map into the MLP output projection of the layer before the block: \(reason); use --replace layer or none"
    case .initializationCannotFold(let reason):
      "--init linear folds a map into the replacement's MLP output projection: \(reason); use --init first or merge"
    case .missingParameter(let modelType, let name):
      "the \(modelType) layer's parameter table has no \(name) of its own"
    case .degenerateLinearFit:
      "the MLP outputs before the block are degenerate; the linear map cannot be fitted"
    }
  }
}
