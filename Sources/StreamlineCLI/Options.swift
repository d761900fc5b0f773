import ArgumentParser
import Foundation
import Models
import Streamline
import Tensors

extension Precision: ExpressibleByArgument {
  /// The precision asked for, after saying once on stderr when this CPU computes it in Float32
  /// instead (the library does the same resolution wherever weights are loaded).
  var announced: Precision {
    if self != effective && !Self.fallbackSaid {
      Self.fallbackSaid = true
      FileHandle.standardError.write(
        Data(
          ("note: this CPU has no native bf16 matrix products (oneDNN runs \(CPU.isa)); "
            + "--precision \(rawValue) computes in \(effective.rawValue)\n").utf8))
    }
    return self
  }

  nonisolated(unsafe) private static var fallbackSaid = false
}

/// The model folder and how to compute with it.
struct ModelOptions: ParsableArguments {
  @Argument(
    help:
      "A Hugging Face model folder (config.json and *.safetensors), or demo for the shipped model."
  )
  var model: String = DemoModel.name

  @Option(help: "Matrix-product precision: f32 (exact) or bf16 (bf16 operands, f32 accumulation).")
  var precision: Precision = .f32

  func load(resident: Bool = false) throws -> DecoderModel {
    try DecoderModel(
      url: URL(fileURLWithPath: path), precision: precision.announced, residentWeights: resident)
  }

  /// The model folder, the demo model's when `model` is `demo`.
  var path: String { DemoModel.resolve(model) }

  var isDemo: Bool { model == DemoModel.name }
}

struct OutputOptions: ParsableArguments {
  @Flag(help: "Print one JSON object instead of a table.")
  var json = false
}

/// Results go to stdout.
func emit(_ text: String) {
  print(text)
}
