import ArgumentParser
import Foundation
import Models
import Streamline
import Tensors

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
