import Checkpoint
import Foundation
import Models
import Tensors
import Testing

@testable import Streamline

@Suite struct ReplacementTests {
  static let calibration = Fixtures.root.appendingPathComponent("replacement/calibration.jsonl")

  func sequences(_ count: Int = 40) throws -> [[Int]] {
    var options = CalibrationOptions(path: Self.calibration.path)
    options.seqLen = 24
    options.samples = count
    return try Fixtures.calibrationSequences(options)
  }

  func request(_ kind: ReplacementKind, loss: TrainingLoss = .mse, rate: Double = 1e-3)
    -> CompressionRequest
  {
    var request = CompressionRequest()
    request.removal = .layers(2)
    request.replacement = kind
    request.scoringSamples = 8
    request.training.loss = loss
    // These tests are about the paper's start, the block's first layer.
    request.training.initialization = .first
    request.training.epochs = 3
    request.training.learningRate = rate
    request.training.minimumLearningRate = rate / 4
    return request
  }

  /// The values `plan` writes for tensor `name`, as the checkpoint stores them (written to a
  /// file in its dtype and read back).
  func written(_ plan: CompressionPlan, _ name: String) throws -> [Float] {
    let override = try #require(plan.overrides[name])
    let output = Fixtures.temporary("override")
    defer { try? FileManager.default.removeItem(at: output) }
    try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    _ = try CheckpointWriter.save([try override("x")], to: output)
    return try ModelFolder.readTensors(output).float("x").toArray()
  }

  func plan(_ request: CompressionRequest) throws -> CompressionPlan {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    return try Compression.plan(
      model: model, sequences: try sequences(), request: request,
      progress: { Progress($0, style: .off) })
  }

  @Test func linearFitEqualsNumPyLeastSquares() throws {
    let file = try SafeTensorsFile(
      path: Fixtures.root.appendingPathComponent("replacement/linear.safetensors").path)
    func floats(_ name: String) throws -> [Float] {
      let info = try file.info(name)
      var out = [Float](repeating: 0, count: info.elementCount)
      out.withUnsafeMutableBufferPointer {
        Convert.toFloat(file.file.bytes(info.byteRange), dtype: info.dtype, into: $0.baseAddress!)
      }
      return out
    }
    let m = try floats("m")
    let y = try floats("y")
    let expected = try floats("t")
    let c = 32
    let t = try LinearMap.solve(m: m, y: y, rows: m.count / c, width: c)
    let scale = expected.map { abs($0) }.max()!
    let difference = zip(t, expected).map { abs(Float($0) - $1) }.max()!
    #expect(difference / scale < 1e-4, "T differs from NumPy's by \(difference) (scale \(scale))")
  }

  @Test func trainedLayerBeatsItsStartAndPlainRemoval() throws {
    let plan = try plan(request(.layer))
    let report = try #require(plan.training)
    #expect(plan.end - plan.start == 3 && plan.removed == Array((plan.start + 1)..<plan.end))
    // The held-out baseline removes as many layers as the pruned model lost, not the block.
    #expect(plan.plainRemovalBaseline.count == plan.end - plan.start - 1)
    #expect(report.bestValidation < report.initialValidation)
    #expect(report.bestValidation < report.plainRemovalValidation!)
    #expect(report.curve.first?.validation == report.initialValidation)
    #expect(report.steps == report.curve.count - 1)
  }

  @Test func trainingIsReproducible() throws {
    var small = request(.layer)
    small.training.epochs = 1
    let first = try plan(small).training!
    let second = try plan(small).training!
    #expect(first.bestValidation == second.bestValidation)
    #expect(first.curve.map(\.loss) == second.curve.map(\.loss))
  }

  @Test func withoutImprovementTheInitialWeightsAreKept() throws {
    let plan = try plan(request(.layer, rate: 1e-30))
    let report = try #require(plan.training)
    #expect(report.bestStep == 0 && report.bestValidation == report.initialValidation)
    // The exported layer is the block's first layer, unchanged.
    let source = try ModelFolder(url: Fixtures.model("llama-gqa"))
    let name = LlamaConfig.layerPrefix(plan.start) + "mlp.down_proj.weight"
    let written = try plan.overrides[name]!("x")
    let output = Fixtures.temporary("kept")
    defer { try? FileManager.default.removeItem(at: output) }
    try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    _ = try CheckpointWriter.save([written], to: output)
    let reread = try ModelFolder.readTensors(output)
    #expect(try reread.float("x").toArray() == source.float(name).toArray())
  }

  @Test func ffnReplacementIsAZeroAttentionLayer() throws {
    let plan = try plan(request(.ffn))
    let report = try #require(plan.training)
    #expect(report.bestValidation <= report.initialValidation)
    let name = LlamaConfig.layerPrefix(plan.start) + "self_attn.o_proj.weight"
    #expect(try written(plan, name).allSatisfy { $0 == 0 })
  }

  @Test func linearReplacementBeatsPlainRemoval() throws {
    let plan = try plan(request(.linear))
    let fit = try #require(plan.linearFit)
    #expect(plan.start >= 1 && plan.removed == Array(plan.start..<plan.end))
    #expect(fit["validation_mse"]! < fit["plain_removal_validation_mse"]!)
    #expect(
      plan.overrides.keys.sorted() == [
        LlamaConfig.layerPrefix(plan.start - 1) + "mlp.down_proj.weight"
      ])
  }

  @Test func languageModelLossTrainsThroughTheFrozenTop() throws {
    let plan = try plan(request(.layer, loss: .lm))
    let report = try #require(plan.training)
    #expect(report.bestValidation < report.initialValidation)
    #expect(report.plainRemovalValidation == nil)
  }

  /// Frozen layers read from the checkpoint whenever they run train exactly as resident ones.
  @Test func streamedFrozenLayersTrainAsResidentOnes() throws {
    var resident = request(.layer, loss: .kd)
    resident.training.epochs = 1
    var streamed = resident
    streamed.training.frozenWeightBytes = 0
    let kept = try #require(try plan(resident).training)
    let read = try #require(try plan(streamed).training)
    #expect(read.curve.map(\.loss) == kept.curve.map(\.loss))
    #expect(read.bestValidation == kept.bestValidation)
  }

  @Test func impossibleTrainingRequestsFailClearly() throws {
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    let few = try sequences(9)
    #expect(throws: CompressionError.tooFewTrainingSequences(.layer)) {
      _ = try Compression.plan(
        model: model, sequences: few, request: request(.layer),
        progress: { Progress($0, style: .off) })
    }
    var linear = request(.linear)
    linear.layers = [0, 1]
    #expect(throws: CompressionError.noLayerBeforeBlock(.linear)) {
      _ = try Compression.plan(
        model: model, sequences: try sequences(), request: linear,
        progress: { Progress($0, style: .off) })
    }
  }

  @Test func spilledStatesRoundTrip() throws {
    let store = try StateStore(states: [2, 5], rows: 3, width: 4, memoryLimit: 0)
    #expect(store.isSpilled)
    for i in 0..<12 { store.pointer(state: 5)[i] = Float(i) }
    #expect((0..<12).map { store.pointer(state: 5)[$0] } == (0..<12).map(Float.init))
  }
}

extension ModelFolder {
  /// A folder holding only model.safetensors (no config.json), read as tensors.
  static func readTensors(_ folder: URL) throws -> SafeTensorsReader {
    SafeTensorsReader(
      file: try SafeTensorsFile(path: folder.appendingPathComponent("model.safetensors").path))
  }
}

struct SafeTensorsReader {
  let file: SafeTensorsFile

  func float(_ name: String) throws -> Tensor {
    let info = try file.info(name)
    let out = Tensor(uninitialized: info.shape)
    Convert.toFloat(file.file.bytes(info.byteRange), dtype: info.dtype, into: out.pointer)
    return out
  }
}
