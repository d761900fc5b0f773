import Models

/// Requests `Compression` cannot carry out, typed so that callers can tell them apart; each
/// carries the values it is about. The wording here is the library's, in its own terms; the
/// command line words them with its flag names (`StreamlineCLI`'s `CompressionError.flagWording`).
public enum CompressionError: Error, CustomStringConvertible, Equatable {
  /// `--blocks` below 1.
  case blocksBelowOne(Int)
  /// More than one block, without scoring on this model.
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
  /// Measured selection ranks contiguous blocks by similarity on sequences scored here.
  case measuredSelectionNeedsScoring
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
  /// Every block of `width` layers holds an earlier block's replacement.
  case noBlockBesideReplacements(width: Int)
  /// Healing splits its sequences into a training and a held-out part.
  case tooFewHealingSequences(Int)
  /// A training budget in tokens that makes fewer than 2 sequences of `seqLen`.
  case tooFewTrainingTokens(ReplacementKind, tokens: Int, seqLen: Int)
  /// A list of layers to remove that cannot be read or applied; `reason` says why.
  case layerList(text: String, reason: String)
  /// Fewer than one layer to remove.
  case removalBelowOne(Int)
  /// More layers than can go: `maximum` leaves one layer (beside the replacement, when
  /// `besideReplacement`).
  case removalLeavesNoLayer(requested: Int, layers: Int, maximum: Int, besideReplacement: Bool)
  /// A parameter share outside (0, 1).
  case sparsityOutOfRange(Double)
  /// A parameter share more than the `maximum` layers that can go remove (`share` of all).
  case sparsityUnreachable(sparsity: Double, maximum: Int, share: Double)
  /// A metric that picks scattered layers, for a replacement that takes one block's place.
  case scatteredMetric(ImportanceMetric)

  public var description: String {
    switch self {
    case .blocksBelowOne(let blocks):
      "at least 1 block is needed, not \(blocks)"
    case .blocksNeedScoredRemoval(let blocks):
      "removal in \(blocks) blocks rescores the pruned model after each block: it needs scoring (not given layers) and no scores computed elsewhere"
    case .moreBlocksThanLayers(let blocks, let layers):
      "removal in \(blocks) blocks needs at least as many layers to remove, not \(layers)"
    case .healingNeedsTrainedReplacement:
      "healing trains the layers next to a trained replacement: it needs the layer or ffn replacement"
    case .tooFewTrainingSequences(let kind):
      "the \(kind.rawValue) replacement needs at least 2 training sequences beyond the scored ones"
    case .scatteredBlock(let kind):
      "the \(kind.rawValue) replacement needs a contiguous block of layers"
    case .noLayerBeforeBlock(let kind):
      "the \(kind.rawValue) replacement folds the map into the layer before the block; the block cannot start at layer 0"
    case .statisticsDepth(let statistics, let model):
      "the scoring statistics are of \(statistics) layers, the model has \(model)"
    case .measuredSelectionNeedsScoring:
      "measured selection measures the best blocks by cosine or angular similarity on the scored sequences: it needs scoring (not given layers or scores) and a contiguous metric"
    case .noScoringSequences:
      "no calibration sequences to score"
    case .tooFewSequencesToSplit(let count):
      "replacement training needs at least 2 training sequences (one held out), not \(count)"
    case .attentionCannotSwitchOff(let reason):
      "the ffn replacement needs a layer whose attention can be switched off: \(reason)"
    case .mapCannotFoldBeforeBlock(let reason):
      "the linear replacement folds a map into the MLP output projection of the layer before the block: \(reason)"
    case .initializationCannotFold(let reason):
      "the linear initialisation folds a map into the replacement's MLP output projection: \(reason)"
    case .missingParameter(let modelType, let name):
      "the \(modelType) layer's parameter table has no \(name) of its own"
    case .degenerateLinearFit:
      "the MLP outputs before the block are degenerate; the linear map cannot be fitted"
    case .noBlockBesideReplacements(let width):
      "every block of \(width) layers holds an earlier block's replacement; remove the layers in fewer blocks"
    case .tooFewHealingSequences(let count):
      "healing needs at least 2 sequences of its own (one held out), not \(count)"
    case .tooFewTrainingTokens(let kind, let tokens, let seqLen):
      "a training budget of \(tokens) tokens makes \(max(1, tokens / seqLen)) sequence(s) of \(seqLen); the \(kind.rawValue) replacement needs at least 2"
    case .layerList(let text, let reason):
      "layers \(text): \(reason)"
    case .removalBelowOne(let n):
      "at least 1 layer must go, not \(n)"
    case .removalLeavesNoLayer(let n, let layers, let maximum, let beside):
      "removing \(n) layers leaves no layer of \(layers)\(beside ? " beside the replacement" : "") (at most \(maximum))"
    case .sparsityOutOfRange(let s):
      "the sparsity must lie strictly between 0 and 1, not \(s)"
    case .sparsityUnreachable(let s, let maximum, let share):
      "a sparsity of \(s) needs more than the \(maximum) layers that can go (\(String(format: "%.3f", share)) at most)"
    case .scatteredMetric(let metric):
      "the \(metric.rawValue) metric picks layers that need not be contiguous; only plain removal can take them"
    }
  }
}
