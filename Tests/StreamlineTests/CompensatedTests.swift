import Checkpoint
import Foundation
import Models
import Tensors
import Testing

@testable import Streamline

/// `--blocks K` with a replacement: each block is made on the model pruned so far, toward the
/// original.
@Suite struct CompensatedTests {
  let replacement = ReplacementTests()

  @Test func theTeachersStateIsTheInputOfTheSameLayer() throws {
    let original = try DecoderModel(url: Fixtures.model("llama-gqa"))
    let layers = original.config.numLayers
    let teacher = Teacher(model: original, sourceLayers: [0, 1] + Array(4..<layers))
    #expect(teacher.state(0) == 0 && teacher.state(2) == 4)
    #expect(teacher.state(layers - 2) == layers)
  }

  /// States from the block's end up are the original's; those before it the pruned model's.
  @Test func targetsAreCapturedFromTheOriginal() throws {
    let url = Fixtures.model("llama-gqa")
    let original = try DecoderModel(url: url)
    let sequences = try replacement.sequences(6)
    let output = Fixtures.temporary("compensated-capture")
    defer { try? FileManager.default.removeItem(at: output) }
    // A model with a trained-looking change below the block: layer 1 perturbed, 2 and 3 gone.
    let name = LlamaConfig.layerPrefix(1) + "mlp.down_proj.weight"
    let weight = try original.folder!.float(name)
    for i in 0..<weight.count { weight.data[i] *= 0.5 }
    _ = try Surgery.write(
      source: original.folder!, config: original.config, removing: [2, 3],
      overrides: [name: { try WritableTensor($0, weight) }], manifest: [:], to: output)
    let pruned = try DecoderModel(url: output)
    var request = CompressionRequest()
    request.teacher = Teacher(
      model: original, sourceLayers: [0, 1] + Array(4..<original.config.numLayers))
    let captured = try #require(
      try StateCapture.capture(
        [2, 3], model: pruned, sequences: sequences, request: request, targetsFrom: 3,
        progress: { Progress($0, style: .off) }))
    let store = captured.store
    let count = store.rows * store.width
    func states(_ model: DecoderModel, _ state: Int) throws -> [Float] {
      let kept = try StateStore(
        states: [state], rows: store.rows, width: store.width, memoryLimit: 1 << 30)
      try StateCapture.run(
        model: model, sequences: sequences, into: kept, memoryBudget: request.memoryBudget)
      return Array(UnsafeBufferPointer(start: kept.pointer(state: state), count: count))
    }
    let own = Array(UnsafeBufferPointer(start: store.pointer(state: 2), count: count))
    let taught = Array(UnsafeBufferPointer(start: store.pointer(state: 3), count: count))
    // The same computation on the same rows: equal up to Float32 round-off at most.
    func close(_ a: [Float], _ b: [Float]) -> Bool {
      zip(a, b).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) }
    }
    #expect(close(own, try states(pruned, 2)))
    #expect(close(taught, try states(original, 5)))
    #expect(!close(taught, try states(pruned, 3)))
  }
}

extension CompensatedTests {
  func plan(
    _ kind: ReplacementKind, blocks: Int, selection: SelectionKind? = .similarity
  ) throws -> CompressionPlan {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    var request = replacement.request(kind)
    request.removal = .layers(2)
    request.blocks = blocks
    request.selection = selection
    request.training.epochs = 1
    return try Compression.plan(
      model: model, sequences: try replacement.sequences(), request: request,
      progress: { Progress($0, style: .off) })
  }

  /// Measured selection at every step: each block is its step's lowest-KL candidate (measured
  /// on the model pruned so far against the original), the candidates are recorded in source
  /// numbers, and the first step's are the one-step measured choice's.
  @Test func everyStepCanBeChosenByMeasuredLoss() throws {
    let plan = try plan(.linear, blocks: 2, selection: .measured)
    let blocks = try #require(plan.blocks)
    #expect(blocks.count == 2 && plan.removed.count == 2)
    for block in blocks {
      let measured = try #require(block.measured)
      #expect(measured.count > 1 && measured.allSatisfy { $0.compensation == "linear" })
      #expect(block.layers == measured.min { $0.kl < $1.kl }!.layers)
    }
    let first = try #require(plan.analysis?.measured)
    #expect(blocks[0].measured!.map(\.kl) == first.map(\.kl))
    #expect(Set(blocks[0].layers).isDisjoint(with: blocks[1].layers))
    let record = PruneRecord(
      plan: plan, config: try DecoderModel(url: Fixtures.model("llama-gqa")).config,
      output: "out", replacement: .linear, blocksRequested: 2,
      compute: ComputeRecord(precision: .f32))
    let listed = try #require(try record.manifest()["blocks"] as? [[String: Any]])
    for (entry, block) in zip(listed, blocks) {
      let measured = try #require(entry["measured"] as? [[String: Any]])
      #expect(measured.map { $0["layers"] as? [Int] } == block.measured!.map(\.layers))
      #expect(record.text.contains("the lowest of \(measured.count)"))
    }
  }

  /// Unless told, compensated blocks are chosen by measured loss, and plain removal's blocks
  /// and a single block by similarity.
  @Test func compensatedBlocksAreMeasuredUnlessToldOtherwise() throws {
    let compensated = try #require(try plan(.linear, blocks: 2, selection: nil).blocks)
    #expect(compensated.allSatisfy { $0.measured != nil })
    let plain = try #require(try plan(.none, blocks: 2, selection: nil).blocks)
    #expect(plain.allSatisfy { $0.measured == nil })
    let single = try plan(.linear, blocks: 1, selection: nil)
    #expect(single.analysis?.selection == .similarity && single.analysis?.measured == nil)
  }

  /// Two blocks of one layer each, with the map: the first is the single-block choice, both
  /// fit better than plain removal, and the tensors are named in the original's numbering.
  @Test func linearBlocksAreFittedOneAfterAnother() throws {
    let plan = try plan(.linear, blocks: 2)
    let blocks = try #require(plan.blocks)
    #expect(blocks.count == 2 && blocks.allSatisfy { $0.layers.count == 1 })
    #expect(plan.removed == blocks.flatMap(\.layers).sorted() && plan.removed.count == 2)
    for block in blocks {
      let validation = try #require(block.validation)
      #expect(block.replacement == .linear && validation.loss == "linear_mse")
      #expect(validation.after < validation.before)
    }
    var single = replacement.request(.linear)
    single.removal = .layers(1)
    let one = try Compression.plan(
      model: try DecoderModel(url: Fixtures.model("llama-gqa")),
      sequences: try replacement.sequences(), request: single,
      progress: { Progress($0, style: .off) })
    #expect(blocks[0].layers == one.removed)
    // Each map folds into the layer before its block, named as in the original.
    let folded = Set(blocks.map { $0.layers[0] - 1 }.filter { !plan.removed.contains($0) })
    #expect(
      Set(plan.overrides.keys)
        == Set(folded.map { LlamaConfig.layerPrefix($0) + "mlp.down_proj.weight" }))
  }

  /// Trained replacements: each block's layer is written over its first source layer.
  @Test func trainedBlocksRecordWhereTheyAre() throws {
    let plan = try plan(.layer, blocks: 2)
    let blocks = try #require(plan.blocks)
    #expect(blocks.count == 2 && plan.removed.count == 2)
    for block in blocks {
      let layer = try #require(block.replacedLayer)
      #expect(block.layers.allSatisfy { $0 > layer })
      #expect(block.validation?.loss == "mse")
      #expect(
        plan.overrides.keys.contains(LlamaConfig.layerPrefix(layer) + "self_attn.q_proj.weight"))
    }
    // No later block takes in an earlier replacement: every replaced layer stays.
    let replaced = blocks.compactMap(\.replacedLayer)
    #expect(Set(replaced).count == blocks.count && Set(replaced).isDisjoint(with: plan.removed))
    let record = PruneRecord(
      plan: plan, config: try DecoderModel(url: Fixtures.model("llama-gqa")).config,
      output: "out", replacement: .layer, blocksRequested: 2,
      compute: ComputeRecord(precision: .f32))
    let listed = try #require(try record.manifest()["blocks"] as? [[String: Any]])
    #expect(listed.map { $0["replaced_layer"] as? Int } == blocks.map(\.replacedLayer))
    #expect(listed.allSatisfy { ($0["validation"] as? [String: Any])?["after"] is Double })
    #expect(record.text.contains("2 blocks, each compensated"))
  }

  /// With a loss at the model's output, an earlier replacement above a later block trains
  /// again with it, and what it learnt there is what the checkpoint holds.
  @Test func earlierReplacementsAboveTheBlockTrainAgain() throws {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    var request = replacement.request(.layer, loss: .kd)
    request.removal = .layers(2)
    request.blocks = 2
    request.training.epochs = 1
    let plan = try Compression.plan(
      model: model, sequences: try replacement.sequences(), request: request,
      progress: { Progress($0, style: .off) })
    let blocks = try #require(plan.blocks)
    let (first, second) = (blocks[0], blocks[1])
    let host = try #require(first.replacedLayer)
    // The fixture's second block lies below the first one's replacement.
    try #require(second.layers.max()! < host)
    #expect(first.trainedAbove == nil && second.trainedAbove == [host])
    let record = PruneRecord(
      plan: plan, config: model.config, output: "out", replacement: .layer, blocksRequested: 2,
      compute: ComputeRecord(precision: .f32))
    let listed = try #require(try record.manifest()["blocks"] as? [[String: Any]])
    #expect((listed[1]["trained_above"] as? [Int]) == second.trainedAbove)
    #expect(record.text.contains("(trained with the one at \(host))"))
    // The first step alone is the single-block plan of one layer, chosen by measured loss as
    // the steps of compensated blocks are unless told; the checkpoint holds the layer as the
    // second step left it, not as the first made it.
    var single = request
    single.blocks = 1
    single.selection = .measured
    single.removal = .layers(1)
    let alone = try Compression.plan(
      model: model, sequences: try replacement.sequences(), request: single,
      progress: { Progress($0, style: .off) })
    #expect(alone.start == host)
    let name = LlamaConfig.layerPrefix(host) + "mlp.down_proj.weight"
    let retrained = try replacement.written(plan, name)
    #expect(retrained != (try replacement.written(alone, name)))
  }

  /// An earlier MLP replacement (`ffn`) trains again as what it is: its attention stays off.
  @Test func anEarlierMLPReplacementKeepsItsAttentionOff() throws {
    var request = replacement.request(.ffn, loss: .kd)
    request.removal = .layers(2)
    request.blocks = 2
    request.training.epochs = 1
    let plan = try Compression.plan(
      model: try DecoderModel(url: Fixtures.model("llama-gqa")),
      sequences: try replacement.sequences(), request: request,
      progress: { Progress($0, style: .off) })
    let blocks = try #require(plan.blocks)
    let host = try #require(blocks[0].replacedLayer)
    try #require(blocks[1].trainedAbove == [host])
    let prefix = LlamaConfig.layerPrefix(host)
    let attention = try replacement.written(plan, prefix + "self_attn.o_proj.weight")
    #expect(attention.allSatisfy { $0 == 0 })
    let mlp = try replacement.written(plan, prefix + "mlp.down_proj.weight")
    #expect(mlp.contains { $0 != 0 })
  }
}
