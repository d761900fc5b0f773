import Checkpoint
import Evaluation
import Foundation
import Models
import Tensors
import Testing

@testable import Streamline

/// The removal curve's points are the models `prune --remove n` writes, measured in memory.
@Suite struct CurveTests {
  let replacement = ReplacementTests()

  /// The curve of the fixture: the first 8 sequences scored, the rest fitting the maps.
  func curve(_ n: Int, trainingMemory: Int = 8 << 30, fixture: String = "llama-gqa") throws -> (
    RemovalCurve, model: DecoderModel, sequences: [[Int]], windows: [TextWindow],
    request: CompressionRequest
  ) {
    let model = try DecoderModel(url: Fixtures.model(fixture))
    let sequences = try replacement.sequences()
    var request = replacement.request(.linear)
    request.removal = nil
    request.trainingMemory = trainingMemory
    let sums = try Similarity.measureSums(
      model: model, sequences: Array(sequences[..<request.scoringSamples]),
      memoryBudget: request.memoryBudget)
    let windows = try replacement.sequences(8).map { TextWindow(wholeSequence: $0) }
    let curve = try RemovalCurve.measure(
      model: model, similarity: sums.matrix, training: Array(sequences[request.scoringSamples...]),
      windows: windows,
      heldOut: CurveHeldOut(file: "fixture", documents: 8, seqLen: 24, windows: windows), upTo: n,
      request: request, progress: { Progress($0, style: .off) })
    return (curve, model, sequences, windows, request)
  }

  /// At each n, the curve's blocks are the ones `prune` chooses, and its perplexity and KL are
  /// those of the checkpoint `prune` writes, within the reordering of Float32 sums that another
  /// row count in a product brings (1e-5 relative, as `CandidateTests`).
  @Test func everyPointIsTheCheckpointPruneWrites() throws {
    let (curve, model, sequences, windows, base) = try curve(3)
    #expect(curve.points.map(\.removed) == [1, 2, 3])
    #expect(curve.fitting?.capturePasses == 1)
    let reference = try ReferenceDistributions(
      model: model, windows: windows, memoryBudget: 1 << 20)
    #expect(abs(curve.original / reference.original.perplexity - 1) < 1e-6)
    for point in curve.points {
      let linear = try #require(point.linear)
      try expectWritten(point.plain, kind: .none, point, model, sequences, base, reference)
      try expectWritten(linear, kind: .linear, point, model, sequences, base, reference)
      #expect(linear.mapLayer == linear.layers.first! - 1)
      #expect(linear.layers.first! >= 1)
    }
  }

  /// `candidate`, of `point`, is the block `prune --replace kind --remove n` chooses, and its
  /// perplexity and KL are those of the checkpoint it writes.
  func expectWritten(
    _ candidate: CurveCandidate, kind: ReplacementKind, _ point: CurvePoint,
    _ model: DecoderModel, _ sequences: [[Int]], _ base: CompressionRequest,
    _ reference: ReferenceDistributions
  ) throws {
    var request = base
    request.replacement = kind
    request.removal = .layers(point.removed)
    let plan = try Compression.plan(
      model: model, sequences: sequences, request: request,
      progress: { Progress($0, style: .off) })
    #expect(plan.removed == candidate.layers, "n = \(point.removed) \(kind)")
    let output = Fixtures.temporary("curve-\(kind.rawValue)-\(point.removed)")
    defer { try? FileManager.default.removeItem(at: output) }
    _ = try Surgery.write(
      source: model.folder!, config: model.config, removing: plan.removed,
      overrides: plan.overrides, manifest: [:], to: output)
    let written = try reference.measure(try DecoderModel(url: output))
    #expect(
      abs(candidate.perplexity / written.perplexity - 1) < 1e-5,
      "n = \(point.removed) \(kind): \(candidate) vs \(written)")
    #expect(
      abs(candidate.kl - written.kl) <= 1e-5 * written.kl,
      "n = \(point.removed) \(kind): \(candidate) vs \(written)")
  }

  /// With too little training memory for every count's states at once, the states are captured
  /// in several passes, and the numbers are the same.
  @Test func boundedMemoryCapturesInPassesWithTheSameNumbers() throws {
    let (whole, _, sequences, _, _) = try curve(3)
    let stateBytes = (sequences.count - 8) * 24 * 32 * MemoryLayout<Float>.size
    let (parts, _, _, _, _) = try curve(3, trainingMemory: 2 * stateBytes)
    #expect(parts.fitting?.capturePasses ?? 0 > 1)
    #expect(parts.points == whole.points)
  }

  @Test func impossibleRequestsAreRefused() throws {
    #expect(throws: CurveError.removalOutOfRange(requested: 4, maximum: 3, layers: 4)) {
      try RemovalCurve.check(4, layers: 4, metric: .cosine)
    }
    #expect(throws: CurveError.removalOutOfRange(requested: 0, maximum: 3, layers: 4)) {
      try RemovalCurve.check(0, layers: 4, metric: .cosine)
    }
    #expect(throws: CurveError.scatteredMetric(.bi)) {
      try RemovalCurve.check(2, layers: 4, metric: .bi)
    }
  }

  /// A family whose layers cannot take the map (Gemma) gets plain removal alone, each point the
  /// checkpoint `prune --replace none` writes, with the reason the map is missing in the
  /// report, the chart and the JSON.
  @Test func aFamilyWithoutTheMapGetsPlainRemovalAlone() throws {
    let (curve, model, sequences, windows, base) = try curve(2, fixture: "gemma3-text")
    let reason = try #require(curve.mapUnavailable)
    #expect(!reason.isEmpty && curve.fitting == nil)
    #expect(curve.points.allSatisfy { $0.linear == nil && $0.recovered == nil })
    let reference = try ReferenceDistributions(
      model: model, windows: windows, memoryBudget: 1 << 20)
    for point in curve.points {
      try expectWritten(point.plain, kind: .none, point, model, sequences, base, reference)
    }
    let table = CurveReport.table(curve)
    #expect(table.contains("no linear map: ") && !table.contains("linear: layers"))
    #expect(table.split(separator: "\n").count == 3 + 1 + 2)
    let svg = CurveReport.svg(curve, model: "fixture")
    #expect(svg.components(separatedBy: "<polyline").count - 1 == 2)
    #expect(svg.contains("no linear map") && !svg.contains("--replace linear"))
    let markdown = CurveReport.markdown(curve, model: "fixture")
    #expect(!markdown.contains("linear: layers") && markdown.contains("| 2 |"))
    let json = try Format.json(curve)
    #expect(json.contains("\"map_unavailable\"") && !json.contains("\"linear\""))
  }

  /// The chart has both series and the original's line, and the table every count.
  @Test func theReportDrawsBothSeries() throws {
    let (curve, _, _, _, _) = try curve(2)
    let svg = CurveReport.svg(curve, model: "fixture")
    #expect(svg.hasPrefix("<svg"))
    // Two series in two panels.
    #expect(svg.components(separatedBy: "<polyline").count - 1 == 4)
    #expect(svg.contains("original "))
    #expect(svg.contains("<title>2 removed, linear: layers"))
    let table = CurveReport.table(curve)
    #expect(table.split(separator: "\n").count == 3 + 1 + 2)
    #expect(CurveReport.logTicks(0.8, 30) == [1, 2, 5, 10, 20])
    #expect(CurveReport.logTicks(45, 113) == [50, 60, 70, 80, 90, 100])
  }
}
