import Foundation
import Models
import Testing

@testable import Streamline

/// Pruning from a Swift program: one call on `PruneJob`, as docs/ARCHITECTURE.md shows it.
@Suite struct PruneJobTests {
  static func quiet(_ label: String, _ unit: String) -> Streamline.Progress {
    Progress(label, unit: unit, style: .off)
  }

  @Test func pruningIsOneCall() throws {
    let model = Fixtures.model("llama-gqa")
    let output = Fixtures.temporary("prune-job")
    defer { try? FileManager.default.removeItem(at: output) }
    // The example of docs/ARCHITECTURE.md, with the fixture's paths and a run small enough
    // for a test.
    var request = PruneRequest(
      model: model.path, output: output.path, removing: 2, replacement: .linear,
      calibration: ReplacementTests.calibration.path)
    request.calibration.seqLen = 24
    request.compression.scoringSamples = 8
    request.trainingSamples = 16
    request.evaluationSamples = 2
    let result = try PruneJob.run(request, progress: Self.quiet)

    let record = try #require(result.record)
    let layers = try DecoderModel(url: model).config.numLayers
    #expect(record.removed.count == 2)
    #expect(record.linearFit?["validation_mse"] != nil)
    #expect(record.evaluation != nil)
    #expect(try DecoderModel(url: output).config.numLayers == layers - 2)
    #expect(
      FileManager.default.fileExists(atPath: output.appendingPathComponent("streamline.json").path))
  }

  /// Errors reach a Swift caller typed, in the library's words, with no command-line flag.
  @Test func aRefusedRequestIsTypedAndFlagFree() throws {
    let output = Fixtures.temporary("prune-job-refused")
    defer { try? FileManager.default.removeItem(at: output) }
    let request = PruneRequest(
      model: Fixtures.model("llama-gqa").path, output: output.path, removing: 2,
      replacement: .none)
    #expect(throws: StreamlineError.calibrationRequired) { try PruneJob(request).check() }
    var tooMany = request
    tooMany.calibration.path = ReplacementTests.calibration.path
    tooMany.calibration.seqLen = 24
    tooMany.compression.removal = .layers(99)
    tooMany.evaluationSamples = 0
    tooMany.compression.scoringSamples = 8
    do {
      _ = try PruneJob.run(tooMany, progress: Self.quiet)
      Issue.record("expected a refusal")
    } catch let error as CompressionError {
      guard case .removalLeavesNoLayer(99, _, _, false) = error else {
        Issue.record("unexpected \(error)")
        return
      }
      #expect(!"\(error)".contains("--"))
    }
    #expect(!FileManager.default.fileExists(atPath: output.path))
  }
}
