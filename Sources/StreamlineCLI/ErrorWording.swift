import ArgumentParser
import Checkpoint
import Evaluation
import Streamline

/// A library error in the command line's words, printed as the library's would be.
struct FlagWordedError: Error, CustomStringConvertible {
  let description: String
}

/// The library words its errors in its own terms; the command line names the flags that made
/// the request, so each typed error the user can fix with a flag is worded here.
enum ErrorWording {
  /// `error` with its flags named, or `error` itself when no flag can change it.
  static func worded(_ error: Error) -> Error {
    guard let text = flagWording(error) else { return error }
    // A mistake in how the flags were combined is answered with the command's usage.
    if let error = error as? StreamlineError, error.isUsageMistake {
      return ValidationError(text)
    }
    return FlagWordedError(description: text)
  }

  /// The text the user sees for `error`.
  static func text(_ error: Error) -> String {
    flagWording(error) ?? "\(error)"
  }

  /// Runs `body`, wording a library error it throws with its flags.
  static func wording<T>(_ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch {
      throw worded(error)
    }
  }

  static func flagWording(_ error: Error) -> String? {
    switch error {
    case let error as CompressionError: error.flagWording
    case let error as StreamlineError: error.flagWording
    case let error as EvaluationError: error.flagWording
    case let error as CheckpointError: error.flagWording
    case let error as CurveError: error.flagWording
    case let error as OutputError: "\(error.role.flag): \(text(error.error))"
    case let error as MemoryLimitError:
      "\(error.shortfall); raise the limit, or use fewer --samples, a shorter --seq-len or a smaller --memory-budget / --train-memory"
    case let error as OutputSetError:
      "\(OutputRole(rawValue: error.label)?.flag ?? error.label): \(text(error.error))"
    default: nil
    }
  }
}

extension CompressionError {
  /// The error in `prune`'s flag names; what no flag can change keeps the library's words.
  var flagWording: String? {
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
    case .layerList(let text, let reason):
      "--layers \(text): \(reason)"
    case .removalBelowOne(let n):
      "--remove must be at least 1, not \(n)"
    case .removalLeavesNoLayer(let n, let layers, let maximum, let beside):
      "--remove \(n) leaves no layer of \(layers)\(beside ? " beside the replacement" : "") (at most \(maximum))"
    case .sparsityOutOfRange(let s):
      "--sparsity must lie strictly between 0 and 1, not \(s)"
    case .sparsityUnreachable(let s, let maximum, let share):
      "--sparsity \(s) needs more than the \(maximum) layers that can go (\(String(format: "%.3f", share)) at most)"
    case .scatteredMetric(let metric):
      "--metric \(metric.rawValue) picks layers that need not be contiguous; use it with --replace none"
    case .tooFewHealingSequences(let count):
      "--heal needs at least 2 sequences of its own (one held out), not \(count): raise --heal-samples or --heal-tokens"
    case .tooFewTrainingTokens(let kind, let tokens, let seqLen):
      "--train-tokens \(tokens) makes \(max(1, tokens / seqLen)) training sequence(s) of --seq-len \(seqLen); --replace \(kind.rawValue) needs at least 2: give --train-tokens of at least \(2 * seqLen)"
    case .statisticsDepth, .noScoringSequences, .tooFewSequencesToSplit, .missingParameter,
      .degenerateLinearFit:
      nil
    }
  }
}

extension StreamlineError {
  var isUsageMistake: Bool {
    switch self {
    case .statisticsOfOtherRun, .statisticsOfOtherCalibration, .calibrationRequired, .emptyShard:
      true
    default: false
    }
  }

  var flagWording: String? {
    switch self {
    case .tooFewCalibrationSequences(let path, let tokens, let sequences, let seqLen, let counts):
      "\(path): \(tokens) tokens make \(sequences) sequences of \(seqLen), but \(counts.total) are asked for (\(counts.scoring) scored, \(counts.evaluation) held out, \(counts.training) training\(counts.healing > 0 ? ", \(counts.healing) healing" : ""); use fewer, a shorter --seq-len, or more text)"
    case .sequenceLength(let seqLen):
      "--seq-len is \(seqLen); it must be at least 2 (a sequence of one token predicts nothing)"
    case .shardSpecification(let text):
      "--shard \(text): expected I/N with 0 ≤ I < N, e.g. 0/4 for the first of four"
    case .notScoringStatistics(let path):
      "\(path): not a streamline scoring-statistics file (from analyze --save-stats)"
    case .statisticsOfOtherRun(let seqLen, let seed):
      "--stats were computed with --seq-len \(seqLen) and --seed \(seed); give the same here"
    case .statisticsOfOtherCalibration(let source):
      "--stats were computed on other calibration data (or another seed or seq-len) than \(source)"
    case .calibrationRequired:
      "--calibration is required to score layers or train a replacement"
    case .emptyShard(let shard, let samples):
      "--shard \(shard): \(samples) sequences leave this shard empty; use fewer shards"
    case .tokenizersDiffer:
      "--perplexity: \(description)"
    case .calibration, .badRequest:
      nil
    }
  }
}

extension EvaluationError {
  var flagWording: String? {
    switch self {
    case .windowLength:
      "--seq-len must be at least 1"
    case .windowStride(_, let seqLen):
      "--stride must be between 1 and --seq-len (\(seqLen))"
    case .unknownTaskLayout(let path, let line, let fields, let formats):
      "\(path):\(line): cannot tell the task layout from the fields \(fields); "
        + "use {\"context\", \"choices\", \"label\"} or name one with --format ("
        + formats.joined(separator: ", ") + ")"
    case .cannotRead, .badLine, .empty, .mismatch, .invalid:
      nil
    }
  }
}

extension CheckpointError {
  var flagWording: String? {
    switch self {
    case .outputNotEmpty(let path, let appeared):
      "\(path): refusing to write the output here: the folder \(appeared ? "appeared" : "exists") and is not empty; use --force to replace it"
    case .outputFileExists(let path):
      "\(path): refusing to write the output here: the file exists; use --force to replace it"
    case .notASize(let text):
      "--max-shard-size: \(text) is not a size like 5GB or 500MB (at most 1000TB)"
    default:
      nil
    }
  }
}

extension CurveError {
  /// The error in `analyze --curve`'s flag names.
  var flagWording: String? {
    switch self {
    case .removalOutOfRange(let requested, let maximum, let layers):
      "--curve \(requested): the model has \(layers) layers, so from 1 to \(maximum) can go (one must stay)"
    case .scatteredMetric(let metric):
      "--curve compares plain removal with the linear map, which replaces one contiguous block: use --metric cosine or angular, not \(metric.rawValue)"
    case .tooFewTrainingSequences(let count):
      "--curve fits the linear maps on training sequences beyond the scored ones: \(count) is too few; give --train-samples of at least 2"
    case .noHeldOutWindows:
      "--heldout: the text holds no token to predict"
    }
  }
}
