import Checkpoint
import Foundation
import Models
import Testing

@testable import Streamline

@Suite struct SurgeryTests {
  @Test func prunedCheckpointComputesTheOriginalWithLayersSkipped() throws {
    let reference = try Fixtures.ImportanceReference.load()
    let source = try ModelFolder(url: Fixtures.model("llama-gqa"))
    let model = try DecoderModel(folder: source)
    let output = Fixtures.temporary("pruned")
    defer { try? FileManager.default.removeItem(at: output) }
    _ = try Surgery.write(
      source: source, config: model.config, removing: reference.removed,
      manifest: ["note": "test"], to: output)

    let pruned = try DecoderModel(url: output)
    #expect(pruned.config.numLayers == 4)
    let rows = try Fixtures.calibrationSequences(
      {
        var options = CalibrationOptions(
          path: Fixtures.importance.appendingPathComponent("calibration.jsonl").path)
        options.seqLen = reference.seqLen
        options.samples = reference.rows
        return options
      }())
    try pruned.forward(
      Array(rows.prefix(2)),
      logits: { s, values, length in
        let mine = Array(UnsafeBufferPointer(start: values, count: length * 128))
        let difference = zip(mine, reference.prunedLogits[s]).map { abs($0 - $1) }.max()!
        #expect(difference < 1e-4)
      })

    // Kept tensors are bit-exact, renumbered past the removed block.
    let copy = try ModelFolder(url: output)
    #expect(
      try Array(
        copy.file(of: "model.layers.2.mlp.up_proj.weight").bytes(
          "model.layers.2.mlp.up_proj.weight"))
        == Array(
          source.file(of: "model.layers.4.mlp.up_proj.weight").bytes(
            "model.layers.4.mlp.up_proj.weight")))
    #expect(!copy.has("model.layers.4.mlp.up_proj.weight"))
    let manifest =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: output.appendingPathComponent("streamline.json"))) as! [String: Any]
    #expect(manifest["removed_layers"] as? [Int] == [2, 3])
    #expect((manifest["source"] as? [String: Any])?["config_sha256"] as? String != nil)
  }

  @Test func perLayerConfigListsAreEdited() throws {
    let source = try ModelFolder(url: Fixtures.model("qwen2-bias"))
    let data = try Surgery.editedConfig(source, layers: 4, removing: [1])
    let config = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    #expect(config["num_hidden_layers"] as? Int == 3)
    #expect((config["layer_types"] as? [String])?.count == 3)
    #expect(config["architectures"] as? [String] == ["Qwen2ForCausalLM"])
  }

  @Test func refusesTheInputFolderAndLeavesNothingOnFailure() throws {
    let source = try ModelFolder(url: Fixtures.model("llama-tied"))
    let config = try DecoderModel(folder: source).config
    #expect(
      Fixtures.message {
        _ = try Surgery.write(
          source: source, config: config, removing: [1], manifest: [:], to: source.url)
      } != nil)
    let inside = source.url.appendingPathComponent("pruned")
    #expect(
      Fixtures.message {
        _ = try Surgery.write(
          source: source, config: config, removing: [1], manifest: [:], to: inside)
      } != nil)
    #expect(!FileManager.default.fileExists(atPath: inside.path))

    let busy = Fixtures.temporary("busy")
    try FileManager.default.createDirectory(at: busy, withIntermediateDirectories: true)
    try Data("x".utf8).write(to: busy.appendingPathComponent("keep.txt"))
    defer { try? FileManager.default.removeItem(at: busy) }
    #expect(
      Fixtures.message {
        _ = try Surgery.write(
          source: source, config: config, removing: [1], manifest: [:], to: busy)
      } != nil)
    #expect(try FileManager.default.contentsOfDirectory(atPath: busy.path) == ["keep.txt"])

    let parent = Fixtures.temporary("parent")
    try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: parent) }
    #expect(
      Fixtures.message {
        _ = try Surgery.write(
          source: source, config: config, removing: [0, 1, 2, 3], manifest: [:],
          to: parent.appendingPathComponent("out"))
      }?.contains("leaves no model") == true)
    #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty)
  }
}
