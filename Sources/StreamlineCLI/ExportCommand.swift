import ArgumentParser
import Checkpoint
import Foundation
import Streamline

struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write a model folder (an original or a pruned one) as a GGUF file for llama.cpp.")

  @Argument(help: "A Hugging Face model folder (config.json, *.safetensors, tokenizer.json).")
  var model: String

  @Option(help: "The GGUF file to write.")
  var gguf: String

  @Option(
    name: .customLong("type"),
    help:
      "What the weight matrices are stored as: f32, f16, bf16 or q8_0 (norms and vectors stay f32, as llama.cpp's converter keeps them)."
  )
  var type: GGUFExport.FileType = .f32

  @Flag(help: "Replace an existing GGUF file.")
  var force = false

  @Flag(help: "Print one JSON object instead of text.")
  var json = false

  func validate() throws {
    var policy = OutputPolicy()
    policy.add(model, as: "the input model folder")
    try GGUFTarget.check(gguf, policy: policy, force: force)
  }

  /// `export --json`.
  struct Summary: Codable {
    let gguf: String
    let type: String
    let architecture: String
    let tensors: Int
    let bytes: Int
    let seconds: Double
  }

  /// Library errors are worded with this command's flags here, where the command runs.
  func run() throws {
    try ErrorWording.wording { try execute() }
  }

  func execute() throws {
    let start = Date()
    var policy = OutputPolicy()
    policy.add(model, as: "the input model folder")
    // The file is staged (its temporary sibling made and locked) before any work.
    let outputs = OutputSet(policy: policy)
    let file = try outputs.file(gguf, label: "--gguf", force: force)
    let export = try GGUFExport(folder: URL(fileURLWithPath: model), fileType: type)
    try export.write(into: file, progress: Progress("writing GGUF", unit: "MB"))
    try outputs.commit()
    let seconds = Date().timeIntervalSince(start)
    let bytes = (try? FileManager.default.attributesOfItem(atPath: gguf)[.size] as? Int) ?? 0
    let tensors = try export.tensors().count
    if json {
      emit(
        try Format.json(
          Summary(
            gguf: gguf, type: type.rawValue, architecture: export.naming.ggufArchitecture,
            tensors: tensors, bytes: bytes, seconds: seconds)))
    } else {
      emit(
        "wrote \(gguf): llama.cpp architecture \(export.naming.ggufArchitecture), \(tensors) tensors, \(type.rawValue), \(bytes >> 20) MiB in \(String(format: "%.1f", seconds)) s"
      )
    }
  }
}
