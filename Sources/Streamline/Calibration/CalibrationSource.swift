import Foundation
import Models

/// Where a job's calibration sequences come from and how they are cut: the request side of
/// `CalibrationStream.draw`, shared by pruning and analysis so that both draw alike.
public struct CalibrationSource: Sendable {
  /// A .txt or .jsonl file or a folder of them; nil for the demo model's own text.
  public var path: String?
  /// Tokens per sequence (nil: 512, or the model's context if shorter).
  public var seqLen: Int?
  public var seed: UInt64 = 0
  /// One document per line of a `.txt` file (always for the demo model's own text).
  public var lineDocuments = false
  public var textField = "text"

  public init(path: String? = nil) { self.path = path }

  /// The data for `model` (a model argument, `DemoModel.name` for the shipped model).
  public func resolved(for model: String) -> String? {
    path ?? (model == DemoModel.name ? DemoModel.calibration.path : nil)
  }

  public func sequenceLength(_ config: any Architecture) -> Int {
    seqLen ?? min(512, config.maxPositions ?? 512)
  }

  /// Scoring, held-out and training sequences for `model` (loaded as `loaded`), streamed from
  /// the source in one draw.
  public func draw(
    model: String, loaded: DecoderModel, counts: CalibrationCounts, progress: Progress? = nil
  ) throws -> CalibrationDraw {
    guard let source = resolved(for: model) else { throw StreamlineError.calibrationRequired }
    var options = CalibrationOptions(path: source)
    options.seqLen = sequenceLength(loaded.config)
    options.samples = max(1, counts.total)
    options.seed = seed
    // The demo's calibration text holds one chapter per line, as the model was trained.
    options.lineDocuments = lineDocuments || (path == nil && model == DemoModel.name)
    options.textField = textField
    return try CalibrationStream.draw(
      options, counts: counts,
      tokenizer: try PruneJob.calibrationTokenizer(DemoModel.resolve(model)),
      vocabularySize: loaded.config.vocabSize, progress: progress)
  }
}
