import ArgumentParser
import Checkpoint
import Foundation
import Models
import Streamline
import Tensors

struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure speed against a reference measured in the same run.",
    subcommands: [BenchForward.self, BenchTrain.self, BenchTokenize.self, BenchChoices.self])
}

/// The model shape a benchmark runs: a config.json, or TinyLlama-1.1B's.
func benchmarkShape(_ path: String?) throws -> any Architecture {
  guard let path else {
    return try Architectures.config(
      from: Data(ForwardBenchmark.defaultConfig.utf8), path: "(TinyLlama-1.1B shape)")
  }
  try InputFile.requireRegular(path)
  guard let data = FileManager.default.contents(atPath: path) else {
    throw ValidationError("\(path): cannot read the file")
  }
  return try Architectures.config(from: data, path: path)
}
