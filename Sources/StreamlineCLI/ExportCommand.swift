import ArgumentParser
import Foundation
import Streamline

extension GGUFExport.FileType: ExpressibleByArgument {}

/// Where a GGUF file may be written: never a folder, never inside an input model folder, and
/// an existing file only with --force. Checked before any work starts.
enum GGUFTarget {
  static func check(_ path: String, inputs: [String], force: Bool, flag: String) throws {
    let target = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath()
    for input in inputs {
      let folder = URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath()
      if target.pathComponents.starts(with: folder.pathComponents) {
        throw ValidationError(
          "\(flag) \(path) lies inside the model folder \(input); write the GGUF file elsewhere")
      }
    }
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
      if isFolder.boolValue {
        throw ValidationError("\(flag) \(path) is a folder; give a file name such as model.gguf")
      }
      if !force {
        throw ValidationError("\(flag) \(path) exists; use --force to replace it")
      }
    }
    let parent = target.deletingLastPathComponent().path
    guard FileManager.default.fileExists(atPath: parent, isDirectory: &isFolder),
      isFolder.boolValue
    else {
      throw ValidationError("\(flag) \(path): the folder \(parent) does not exist")
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
    try GGUFTarget.check(gguf, inputs: [model], force: force, flag: "--gguf")
  }

  func run() throws {
    let start = Date()
    let export = try GGUFExport(folder: URL(fileURLWithPath: model), fileType: type)
    try export.write(to: gguf, progress: Progress("writing GGUF", unit: "MB"))
    let seconds = Date().timeIntervalSince(start)
    let bytes = (try? FileManager.default.attributesOfItem(atPath: gguf)[.size] as? Int) ?? 0
    let tensors = try export.tensors().count
    if json {
      emit(
        "{\"gguf\":\(jsonString(gguf)),\"type\":\"\(type.rawValue)\",\"architecture\":\"\(export.naming.ggufArchitecture)\",\"tensors\":\(tensors),\"bytes\":\(bytes),\"seconds\":\(String(format: "%.2f", seconds))}"
      )
    } else {
      emit(
        "wrote \(gguf): llama.cpp architecture \(export.naming.ggufArchitecture), \(tensors) tensors, \(type.rawValue), \(bytes >> 20) MiB in \(String(format: "%.1f", seconds)) s"
      )
    }
  }
}
