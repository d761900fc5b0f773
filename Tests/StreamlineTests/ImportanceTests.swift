import Foundation
import Models
import Testing

@testable import Streamline

/// Block scores against the same computation in `transformers`.
@Suite struct ImportanceTests {
  func calibration() throws -> [[Int]] {
    let reference = try Fixtures.ImportanceReference.load()
    var options = CalibrationOptions(
      path: Fixtures.importance.appendingPathComponent("calibration.jsonl").path)
    options.seqLen = reference.seqLen
    options.samples = reference.rows
    return try Fixtures.calibrationSequences(options)
  }

  @Test(arguments: [8 << 30, 1])
  func similarityMatchesTransformers(memoryBudget: Int) throws {
    let reference = try Fixtures.ImportanceReference.load()
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    let data = try calibration()
    #expect(data.count == reference.rows)
    let matrix = try Similarity.measure(
      model: model, sequences: data, memoryBudget: memoryBudget)
    #expect(matrix.tokens == reference.rows * reference.seqLen)
    for i in 0...model.config.numLayers {
      for j in 0...model.config.numLayers {
        #expect(abs(matrix.cosine[i][j] - reference.cosine[i][j]) < 1e-4, "cosine \(i), \(j)")
        #expect(abs(matrix.angular[i][j] - reference.angular[i][j]) < 1e-4, "angular \(i), \(j)")
      }
    }
    for (mine, theirs) in zip(matrix.layerBI, reference.layerBI) {
      #expect(abs(mine - theirs) < 1e-4)
    }

    // The chosen blocks are the reference's argmax / argmin for every size.
    for width in 1...4 {
      let analysis = try Importance.analyze(
        matrix, config: model.config, metric: .cosine, removing: width, replacement: .none)
      let starts = 0...(model.config.numLayers - width)
      let best = starts.max { reference.cosine[$0][$0 + width] < reference.cosine[$1][$1 + width] }!
      #expect(analysis.chosen.layers == Array(best..<(best + width)))
      #expect(analysis.blocks.count == starts.count)
      let angular = try Importance.analyze(
        matrix, config: model.config, metric: .angular, removing: width, replacement: .none)
      let closest = starts.min {
        reference.angular[$0][$0 + width] < reference.angular[$1][$1 + width]
      }!
      #expect(angular.chosen.start == closest)
    }
    let layer = try Importance.analyze(
      matrix, config: model.config, metric: .cosine, removing: 2, replacement: .layer)
    #expect(layer.blockSize == 3 && layer.chosen.layers.count == 3)
    // A kept layer (an earlier replacement) is in no candidate block; the best of the rest wins.
    let kept = layer.chosen.start + 1
    let beside = try Importance.analyze(
      matrix, config: model.config, metric: .cosine, removing: 2, replacement: .layer,
      keeping: [kept])
    #expect(beside.blocks.allSatisfy { !($0.start..<$0.end).contains(kept) })
    #expect(!beside.blocks.isEmpty && beside.blocks.count < layer.blocks.count)
    #expect(beside.chosen == Importance.choose(beside.blocks, by: .cosine))
    #expect(
      throws: CompressionError.noBlockBesideReplacements(width: 3),
      performing: {
        try Importance.analyze(
          matrix, config: model.config, metric: .cosine, removing: 2, replacement: .layer,
          keeping: [2, 3])
      })
    let bi = try Importance.analyze(
      matrix, config: model.config, metric: .bi, removing: 2, replacement: .none)
    let lowest = reference.layerBI.indices.sorted { reference.layerBI[$0] < reference.layerBI[$1] }
    #expect(bi.chosen.layers == Array(lowest.prefix(2)).sorted())
  }

  @Test func impossibleRequestsFailClearly() throws {
    let config = try DecoderModel(url: Fixtures.model("llama-gqa")).config
    func fails(_ request: RemovalRequest, _ replacement: ReplacementKind = .none) -> String? {
      Fixtures.message {
        _ = try Importance.layerCount(request, config: config, replacement: replacement)
      }
    }
    #expect(fails(.layers(0))?.contains("at least 1") == true)
    #expect(fails(.layers(-2)) != nil)
    #expect(fails(.layers(6))?.contains("leaves no layer") == true)
    #expect(fails(.layers(5), .layer) != nil)
    #expect(fails(.layers(5)) == nil)
    #expect(fails(.sparsity(0))?.contains("strictly between 0 and 1") == true)
    #expect(fails(.sparsity(1.2)) != nil)
    #expect(fails(.sparsity(0.99)) != nil)
    // Each layer is 9280 of 63904 parameters: 20 % needs 2 layers.
    #expect(try Importance.layerCount(.sparsity(0.2), config: config, replacement: .none) == 2)
    #expect(try Importance.layerCount(.sparsity(0.1), config: config, replacement: .layer) == 1)
  }
}
