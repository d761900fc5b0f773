import ArgumentParser
import Foundation
import Models
import Streamline

struct Analyze: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Score every block of consecutive layers on calibration data and choose one.")

  @OptionGroup var model: ModelOptions
  @OptionGroup var calibration: CalibrationArguments
  @OptionGroup var removal: RemovalArguments

  @Option(help: "Write analysis.json, summary.md and SVG charts into this folder.")
  var report: String?

  @OptionGroup var output: OutputOptions

  func validate() throws {
    guard removal.request != nil else {
      throw ValidationError("say how much to remove: --remove N or --sparsity S")
    }
  }

  func run() throws {
    let loaded = try model.load()
    let analysis = try Self.analyze(
      loaded, model: model, calibration: calibration, removal: removal)
    if let report {
      try AnalysisReport.write(
        analysis, model: model.model, to: URL(fileURLWithPath: report))
    }
    emit(output.json ? try Format.json(analysis) : AnalysisReport.table(analysis))
    if let report, !output.json {
      emit("report: \(report)/summary.md, similarity.svg, blocks.svg, analysis.json")
    }
  }

  /// Calibration, the streamed similarity pass and the block choice, shared with `prune`.
  static func analyze(
    _ loaded: DecoderModel, model: ModelOptions, calibration: CalibrationArguments,
    removal: RemovalArguments
  ) throws -> Analysis {
    let count = try Importance.layerCount(
      removal.request!, config: loaded.config, replacement: removal.replace)
    let data = try calibration.load(for: loaded, options: model)
    let similarity = try Similarity.measure(
      model: loaded, sequences: data.sequences,
      memoryBudget: Int(calibration.memoryBudget * Double(1 << 30)),
      progress: Progress("scoring layers", unit: "tokens"))
    return try Importance.analyze(
      similarity, config: loaded.config, metric: removal.metric, removing: count,
      replacement: removal.replace)
  }
}
