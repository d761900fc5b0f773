import ArgumentParser
import Checkpoint
import Foundation
import Tensors
import Testing

@testable import StreamlineCLI

/// Issue 19: `prune … --gguf FILE` end to end, through the command line as a user runs it, on a
/// tiny Gemma 3 (the family with a per-layer metadata array: which layers slide). The GGUF must
/// describe the pruned model and nothing else: the kept layers' count, pattern and tensors, each
/// tensor the original's for the layer kept in that place, and the prune's provenance. A refused
/// or failed run leaves nothing behind and an earlier file as it was.
@Suite struct PruneGGUFTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../Fixtures").standardized
  static let calibration = fixtures.appendingPathComponent("../../demo/data/calibration.txt")
    .standardized

  /// A scratch folder with a Gemma 3 model folder in it (`model`), removed afterwards.
  final class Scratch {
    let url: URL
    var model: URL { url.appendingPathComponent("model") }

    /// The model-fixture Gemma 3 (four layers: sliding, full, sliding, sliding) with the tiny
    /// SentencePiece-style tokenizer of the evaluation fixtures: its embedding widened to that
    /// tokenizer's 1,156 ids (rows repeated), `query_pre_attn_scalar` as `config` gives it.
    init(queryPreAttnScalar: Int = 16) throws {
      url = FileManager.default.temporaryDirectory.appendingPathComponent(
        "streamline-prune-gguf-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
      let source = PruneGGUFTests.fixtures.appendingPathComponent("models/gemma3-text")
      let tokenizer = PruneGGUFTests.fixtures.appendingPathComponent("tokenizers/llama2")
      for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
        try FileManager.default.copyItem(
          at: tokenizer.appendingPathComponent(name), to: model.appendingPathComponent(name))
      }
      let vocabulary = 1156
      let configData = try Data(contentsOf: source.appendingPathComponent("config.json"))
      var config = try #require(
        try JSONSerialization.jsonObject(with: configData) as? [String: Any])
      config["vocab_size"] = vocabulary
      config["query_pre_attn_scalar"] = queryPreAttnScalar
      config["bos_token_id"] = 1
      config["eos_token_id"] = 2
      config["pad_token_id"] = NSNull()
      try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        .write(to: model.appendingPathComponent("config.json"))
      let weights = try ModelFolder(url: source)
      var tensors: [WritableTensor] = []
      for name in weights.tensorNames {
        let tensor = try weights.float(name)
        if name == "model.embed_tokens.weight" {
          let width = tensor.shape[1]
          let rows = tensor.shape[0]
          var values = [Float](repeating: 0, count: vocabulary * width)
          for row in 0..<vocabulary {
            for column in 0..<width {
              values[row * width + column] = tensor.data[(row % rows) * width + column]
            }
          }
          tensors.append(try WritableTensor(name, shape: [vocabulary, width], values: values))
        } else {
          tensors.append(try WritableTensor(name, tensor))
        }
      }
      try SafeTensorsWriter.write(
        tensors, to: model.appendingPathComponent("model.safetensors").path)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func listing(_ folder: String? = nil) -> [String] {
      ((try? FileManager.default.contentsOfDirectory(atPath: folder ?? url.path)) ?? []).sorted()
    }
  }

  /// `streamline ARGUMENTS` in this process; nil on success, else the error's text.
  static func run(_ arguments: [String]) -> String? {
    do {
      var command = try StreamlineCommand.parseAsRoot(arguments)
      try command.run()
      return nil
    } catch {
      return StreamlineCommand.fullMessage(for: error)
    }
  }

  /// Plain removal of layer 0 (so the full-attention layer 1 becomes layer 0), a held-out
  /// evaluation for the provenance, and `extra` arguments.
  static func prune(_ scratch: Scratch, output: String, gguf: String, _ extra: [String] = [])
    -> [String]
  {
    [
      "prune", scratch.model.path, "--layers", "0-0", "--replace", "none", "--calibration",
      calibration.path, "--seq-len", "16", "--eval-samples", "2", "--output", output, "--gguf",
      gguf,
    ] + extra
  }

  static func strings(_ value: GGUF.Value?) -> [String]? {
    if case .array(.string(let list)) = value { return list }
    return nil
  }

  @Test func pruneWritesTheKeptLayersAsGGUF() throws {
    let scratch = try Scratch()
    let output = scratch.path("pruned")
    let gguf = scratch.path("pruned.gguf")
    let original = scratch.path("original.gguf")
    #expect(Self.run(["export", scratch.model.path, "--gguf", original]) == nil)
    let failure = Self.run(Self.prune(scratch, output: output, gguf: gguf))
    try #require(failure == nil, "\(failure ?? "")")
    #expect(scratch.listing() == ["model", "original.gguf", "pruned", "pruned.gguf"])

    let full = try GGUFFile(path: original)
    let file = try GGUFFile(path: gguf)
    let kept = [1, 2, 3]
    #expect(full["general.architecture"] == .string("gemma3"))
    #expect(full["gemma3.block_count"] == .uint32(4))
    #expect(file["gemma3.block_count"] == .uint32(UInt32(kept.count)))
    // Every per-layer array has exactly the kept layers: the full-attention layer 1 is now
    // layer 0 (llama.cpp's built-in period of 6 would make it a sliding one).
    #expect(
      full["gemma3.attention.sliding_window_pattern"]
        == .array(.bool([true, false, true, true])))
    #expect(
      file["gemma3.attention.sliding_window_pattern"] == .array(.bool([false, true, true])))
    for entry in file.entries {
      if case .array(let array) = entry.value, !entry.key.hasPrefix("tokenizer."),
        !entry.key.hasPrefix("streamline.")
      {
        #expect(array.count == kept.count, "\(entry.key) has one value per kept layer")
      }
    }
    // Everything else llama.cpp reads is the original's.
    let perLayer: Set<String> = [
      "general.name", "gemma3.block_count", "gemma3.attention.sliding_window_pattern",
    ]
    for entry in full.entries where !perLayer.contains(entry.key) {
      #expect(file[entry.key] == entry.value, "\(entry.key)")
    }
    // Tensors: the kept layers only, renumbered, each the original's for the layer kept there.
    let blocks = Set(
      file.tensors.compactMap { tensor -> Int? in
        let parts = tensor.name.split(separator: ".")
        return parts.first == "blk" ? Int(parts[1]) : nil
      })
    #expect(blocks == Set(0..<kept.count))
    let expected =
      full.tensors.filter { !$0.name.hasPrefix("blk.") }.map(\.name)
      + kept.enumerated().flatMap { index, layer in
        full.tensors.filter { $0.name.hasPrefix("blk.\(layer).") }.map {
          "blk.\(index)." + $0.name.dropFirst("blk.\(layer).".count)
        }
      }
    #expect(Set(file.tensors.map(\.name)) == Set(expected))
    #expect(file.tensors.count == expected.count)
    for tensor in file.tensors {
      var name = tensor.name
      let parts = tensor.name.split(separator: ".", maxSplits: 2)
      if parts[0] == "blk", let index = Int(parts[1]) {
        name = "blk.\(kept[index]).\(parts[2])"
      }
      let source = try #require(full.tensor(name), "\(tensor.name)")
      #expect(tensor.shape == source.shape, "\(tensor.name)")
      #expect(tensor.type == source.type, "\(tensor.name)")
      #expect(
        Array(file.bytes(tensor)) == Array(full.bytes(source)), "\(tensor.name) is \(name)")
    }
    // Provenance, as streamline.json has it.
    #expect(full["streamline.manifest"] == nil)
    let manifest = try Data(contentsOf: URL(fileURLWithPath: output + "/streamline.json"))
    #expect(file["streamline.manifest"] == .string(String(decoding: manifest, as: UTF8.self)))
    #expect(file["streamline.removed_layers"] == .array(.int32([0])))
    #expect(file["streamline.replacement"] == .string("none"))
    #expect(file["streamline.num_layers.before"] == .int64(4))
    #expect(file["streamline.num_layers.after"] == .int64(3))
    for key in [
      "streamline.source.config_sha256", "streamline.source.header_sha256",
      "streamline.evaluation.original", "streamline.evaluation.pruned",
      "streamline.calibration.sha256",
    ] {
      #expect(file[key] != nil, "\(key)")
    }
    if case .string(let hash) = file["streamline.source.config_sha256"] {
      #expect(hash.count == 64)
    } else {
      Issue.record("streamline.source.config_sha256 is not a string")
    }
    // The export command gives the same file from the folder prune wrote (but for the name).
    let again = scratch.path("again.gguf")
    #expect(Self.run(["export", output, "--gguf", again]) == nil)
    let exported = try GGUFFile(path: again)
    #expect(
      exported.entries.filter { $0.key != "general.name" }
        == file.entries.filter {
          $0.key != "general.name"
        })
  }

  @Test func refusedTargetsLeaveNothingBehind() throws {
    let scratch = try Scratch()
    let output = scratch.path("pruned")
    let existing = scratch.path("existing.gguf")
    try Data("keep".utf8).write(to: URL(fileURLWithPath: existing))
    let before = scratch.listing()
    let weights = scratch.model.appendingPathComponent("model.safetensors").path
    let weightBytes = try Data(contentsOf: URL(fileURLWithPath: weights))
    let cases: [(gguf: String, mentions: [String])] = [
      (weights, ["inside the input model folder"]),
      (scratch.model.path, ["the input model folder"]),
      (Self.calibration.path, ["the calibration data"]),
      (output, ["the --output folder"]),
      (existing, ["--force"]),
      ("", ["no path given"]),
    ]
    for (gguf, mentions) in cases {
      let text = Self.run(Self.prune(scratch, output: output, gguf: gguf))
      guard let text else {
        Issue.record("--gguf \(gguf) was accepted")
        continue
      }
      #expect(!text.contains("\n"), "one line: \(text)")
      #expect(text.hasPrefix("Error: --gguf"), "names --gguf: \(text)")
      for part in mentions {
        #expect(text.contains(part), "«\(text)» mentions «\(part)»")
      }
      #expect(scratch.listing() == before, "nothing written for --gguf \(gguf)")
    }
    #expect(try Data(contentsOf: URL(fileURLWithPath: existing)) == Data("keep".utf8))
    #expect(try Data(contentsOf: URL(fileURLWithPath: weights)) == weightBytes)
    // With --force the existing file is replaced by the export.
    #expect(Self.run(Self.prune(scratch, output: output, gguf: existing, ["--force"])) == nil)
    let replaced = try GGUFFile(path: existing)
    #expect(replaced["gemma3.block_count"] == .uint32(3))
  }

  @Test func aFailedExportLeavesNeitherFolderNorFile() throws {
    // Found only when the GGUF is written, after the surgery: llama.cpp cannot scale attention
    // by query_pre_attn_scalar^-1/2 other than head_dim's.
    let scratch = try Scratch(queryPreAttnScalar: 24)
    let output = scratch.path("pruned")
    let existing = scratch.path("existing.gguf")
    try Data("keep".utf8).write(to: URL(fileURLWithPath: existing))
    let fresh = Self.run(Self.prune(scratch, output: output, gguf: scratch.path("new.gguf")))
    let forced = Self.run(Self.prune(scratch, output: output, gguf: existing, ["--force"]))
    for text in [fresh, forced] {
      #expect(text?.contains("query_pre_attn_scalar") == true, "\(text ?? "accepted")")
      #expect(text?.contains("\n") == false, "one line: \(text ?? "")")
    }
    #expect(scratch.listing() == ["existing.gguf", "model"])
    #expect(try Data(contentsOf: URL(fileURLWithPath: existing)) == Data("keep".utf8))
  }
}
