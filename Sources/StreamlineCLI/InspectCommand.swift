import ArgumentParser
import Streamline

struct Inspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Describe a checkpoint: architecture, sizes, dtype, parameter counts, files.")

  @OptionGroup var model: ModelOptions
  @OptionGroup var output: OutputOptions

  func run() throws {
    let summary = try ModelSummary(model: model.load())
    emit(output.json ? try Format.json(summary) : summary.text)
  }
}
