import ArgumentParser
import Checkpoint
import Foundation
import Streamline

extension GGUFExport.FileType: ExpressibleByArgument {}

/// Where a GGUF file may be written: never a folder, never inside an input model folder, and
/// an existing file only with --force. Checked before any work starts.
/// A `--gguf` file, checked before any work by the one output policy every written path goes
/// through (never blank, never the current folder, never inside or onto an input, never a
/// folder), and, being a single file, replaced only with `--force`.
enum GGUFTarget {
  static func check(_ path: String, policy: OutputPolicy, force: Bool, flag: String) throws {
    // One line naming the flag, as every refused output path is (a ValidationError would add
    // the command's usage).
    try forOption(flag) {
      let url = try policy.file(path)
      if FileManager.default.fileExists(atPath: url.path) && !force {
        throw CheckpointError.outputRefused(
          path: path, reason: "the file exists; use --force to replace it")
      }
    }
  }
}

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
    try GGUFTarget.check(gguf, policy: policy, force: force, flag: "--gguf")
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

  func run() throws {
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
