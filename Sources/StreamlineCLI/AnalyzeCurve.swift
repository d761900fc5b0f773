import ArgumentParser
import Checkpoint
import Evaluation
import Foundation
import Models
import Streamline

extension Analyze {
  /// The curve: every count from 1 to N, plain and linear, on the held-out windows `eval
  /// --perplexity` scores, each the model `prune --remove n` would write.
  func runCurve(_ n: Int, heldout: String) throws {
    var request = CurveRequest(upTo: n, heldOut: heldout)
    request.heldOutSeqLen = curve.heldoutSeqLen
    request.trainingSamples = curve.trainSamples
    request.trainingTokens = curve.trainTokens
    request.evaluationSamples = curve.evalSamples
    request.training = curve.options
    request.trainingMemory = try curve.trainMemoryBytes()
    request.heldOutName = "the --heldout file"
    let result = try AnalysisJob(try self.request()).curve(request)
    emit(output.json ? try Format.json(result) : CurveReport.table(result))
    if let report, !output.json {
      emit("report: \(report)/summary.md, curve.svg, analysis.json")
    }
  }
}
