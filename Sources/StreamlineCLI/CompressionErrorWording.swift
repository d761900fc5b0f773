import Streamline

/// A `CompressionError` as `prune` words it: with the flags the user gave or can give.
struct PruneRequestError: Error, CustomStringConvertible {
  let description: String

  /// `trainTokens` and `seqLen`: a training budget given in tokens is what to raise, not
  /// --train-samples.
  init(_ error: CompressionError, trainTokens: Int? = nil, seqLen: Int? = nil) {
    if case .tooFewTrainingSequences(let kind) = error, let trainTokens, let seqLen {
      description =
        "--train-tokens \(trainTokens) makes \(max(1, trainTokens / seqLen)) training sequence(s) of --seq-len \(seqLen); --replace \(kind.rawValue) needs at least 2: give --train-tokens of at least \(2 * seqLen)"
      return
    }
    description = error.flagWording
  }
}

extension CompressionError {
  /// The error in `prune`'s flag names; what no flag can change keeps the library's words.
  var flagWording: String {
    switch self {
    case .blocksBelowOne(let blocks):
      "--blocks must be at least 1, not \(blocks)"
    case .blocksNeedScoredRemoval(let blocks):
      "--blocks \(blocks) rescores the pruned model after each block: it needs scoring (not --layers) and no --stats"
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
    case .attentionCannotSwitchOff(let reason):
      "--replace ffn needs a layer whose attention can be switched off: \(reason); use --replace layer"
    case .mapCannotFoldBeforeBlock(let reason):
      "--replace linear folds a map into the MLP output projection of the layer before the block: \(reason); use --replace layer or none"
    case .initializationCannotFold(let reason):
      "--init linear folds a map into the replacement's MLP output projection: \(reason); use --init first or merge"
    case .measuredSelectionNeedsScoring:
      "--select measured measures the best blocks by --metric cosine or angular on the scored --samples: it cannot take --layers, --stats or --metric bi"
    case .noBlockBesideReplacements(let width):
      "every block of \(width) layers holds an earlier block's replacement; give fewer --blocks"
    case .tooFewHealingSequences(let count):
      "--heal needs at least 2 sequences of its own (one held out), not \(count): raise --heal-samples or --heal-tokens"
    case .statisticsDepth, .noScoringSequences, .tooFewSequencesToSplit, .missingParameter,
      .degenerateLinearFit:
      description
    }
  }
}
