import ArgumentParser
import Foundation
import Models

extension Precision: ExpressibleByArgument {}

/// The model folder and how to compute with it.
struct ModelOptions: ParsableArguments {
  @Argument(help: "A Hugging Face model folder (config.json and *.safetensors).")
  var model: String

  @Option(help: "Matrix-product precision: f32 (exact) or bf16 (bf16 operands, f32 accumulation).")
  var precision: Precision = .f32

  func load(resident: Bool = false) throws -> DecoderModel {
    try DecoderModel(
      url: URL(fileURLWithPath: model), precision: precision, residentWeights: resident)
  }
}

struct OutputOptions: ParsableArguments {
  @Flag(help: "Print one JSON object instead of a table.")
  var json = false
}

/// Results go to stdout.
func emit(_ text: String) {
  print(text)
}
