import ArgumentParser
import Checkpoint
import Evaluation
import Foundation
import Testing

@testable import Streamline
@testable import StreamlineCLI

@Suite struct CommandLineTests {
  /// A `ValidationError` from a subcommand's `run()` shows that subcommand's usage, not the
  /// root's `streamline <subcommand>`.
  @Test func validationFailuresShowTheSubcommandsUsage() throws {
    let text = try #require(
      StreamlineCommand.failure(
        ValidationError("--calibration is required"), in: Analyze.self))
    #expect(text.hasPrefix("Error: --calibration is required\nUsage: streamline analyze"))
    #expect(!text.contains("<subcommand>"))
    #expect(text.contains("See 'streamline analyze --help'"))
    let nested = try #require(
      StreamlineCommand.failure(ValidationError("x"), in: BenchTokenize.self))
    #expect(nested.contains("Usage: streamline bench tokenize"))
    // Other errors print as their own one line.
    #expect(StreamlineCommand.failure(CocoaError(.fileNoSuchFile), in: Analyze.self) == nil)
  }

  /// Errors found while parsing (`validate()`) already name the subcommand.
  @Test func parseErrorsNameTheSubcommand() {
    do {
      _ = try StreamlineCommand.parseAsRoot(["tokenize", "model", "--text", "a", "--file", "b"])
      Issue.record("expected a validation error")
    } catch {
      let text = StreamlineCommand.fullMessage(for: error)
      #expect(text.contains("give exactly one of --text or --file"))
      #expect(text.contains("streamline tokenize"))
    }
  }

  @Test func wholeAndJSONLAreExclusive() {
    #expect(throws: (any Error).self) {
      _ = try StreamlineCommand.parseAsRoot(["tokenize", "m", "--text", "a", "--whole", "--jsonl"])
    }
    #expect(throws: (any Error).self) {
      _ = try StreamlineCommand.parseAsRoot(["tokenize", "m", "--file", "a.jsonl", "--whole"])
    }
  }

  /// The `bi` rule is the library's, reported while parsing.
  @Test func biWithAReplacementIsRefusedWhileParsing() {
    do {
      _ = try StreamlineCommand.parseAsRoot(["analyze", "demo", "--remove", "2", "--metric", "bi"])
      Issue.record("expected a validation error")
    } catch {
      #expect(StreamlineCommand.fullMessage(for: error).contains("--replace none"))
    }
  }

  /// `tokenize --whole` and JSONL input encode whole texts, line breaks included.
  @Test func tokenizeEncodesWholeTextsAndRecords() throws {
    let tokenizer = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../Fixtures/tokenizers/llama2").standardized.path
    let whole = try #require(
      try StreamlineCommand.parseAsRoot(["tokenize", tokenizer, "--text", "a\nb", "--whole"])
        as? TokenizeCommand)
    #expect(whole.whole && !whole.isJSONL)
    try whole.validate()
    let jsonl = try #require(
      try StreamlineCommand.parseAsRoot(["tokenize", tokenizer, "--file", "x.jsonl"])
        as? TokenizeCommand)
    #expect(jsonl.isJSONL)
  }
}

/// The library's typed compression errors reach the user in `prune`'s flag names.
@Suite struct CompressionErrorWordingTests {
  @Test func requestErrorsNameTheFlags() {
    #expect(
      CompressionError.healingNeedsTrainedReplacement.flagWording
        == "--heal-neighbors trains the layers next to a trained replacement: it needs --replace layer or ffn"
    )
    #expect(
      CompressionError.noLayerBeforeBlock(.linear).flagWording
        == "--replace linear folds the map into the layer before the block; the block cannot start at layer 0"
    )
    #expect(!CompressionError.healingNeedsTrainedReplacement.description.contains("--"))
    #expect(
      "\(ErrorWording.worded(CompressionError.blocksBelowOne(0)))"
        == "--blocks must be at least 1, not 0")
    #expect(
      CompressionError.measuredSelectionNeedsScoring.flagWording?.hasPrefix("--select measured")
        == true)
    #expect(!CompressionError.measuredSelectionNeedsScoring.description.contains("--"))
  }
}

/// Every library error a flag can fix reaches the user in the flag's name, and the library's
/// own words name none.
@Suite struct LibraryErrorWordingTests {
  @Test func libraryErrorsAreFlagFreeAndTheCommandLineNamesTheFlags() {
    let cases: [(Error, String)] = [
      (
        CompressionError.removalLeavesNoLayer(
          requested: 30, layers: 12, maximum: 11,
          besideReplacement: false), "--remove 30 leaves no layer of 12 (at most 11)"
      ),
      (
        CompressionError.sparsityOutOfRange(1.5),
        "--sparsity must lie strictly between 0 and 1, not 1.5"
      ),
      (
        CompressionError.layerList(text: "9", reason: "the model has layers 0...7"),
        "--layers 9: the model has layers 0...7"
      ),
      (
        StreamlineError.sequenceLength(0),
        "--seq-len is 0; it must be at least 2 (a sequence of one token predicts nothing)"
      ),
      (
        EvaluationError.windowStride(stride: 9, seqLen: 4),
        "--stride must be between 1 and --seq-len (4)"
      ),
      (
        CheckpointError.notASize("5XB"),
        "--max-shard-size: 5XB is not a size like 5GB or 500MB (at most 1000TB)"
      ),
      (
        OutputError(
          role: .output, error: CheckpointError.outputNotEmpty(path: "o", appeared: false)),
        "--output: o: refusing to write the output here: the folder exists and is not empty; use --force to replace it"
      ),
    ]
    for (error, worded) in cases {
      #expect(!"\(error)".contains("--"), "\(error)")
      #expect(ErrorWording.text(error) == worded)
    }
  }
}
