import Evaluation
import Foundation
import Models
import Testing

/// Per-choice log-likelihoods and accuracies equal lm-eval 0.4's Hugging Face backend.
@Suite struct MultipleChoiceTests {
  static let cases = EvalFixtures.models.flatMap { m in EvalFixtures.tasks.map { (m, $0) } }

  @Test(arguments: cases)
  func matchesLMEval(model name: String, task: String) throws {
    let url = EvalFixtures.model(name)
    let model = try DecoderModel(url: url, residentWeights: true)
    let encoder = try RequestEncoder(modelFolder: url)
    let reference = EvalFixtures.taskReference(model: name, task: task)
    let file = try TaskFile.read(path: EvalFixtures.task(task))
    #expect(file.name == task)
    let items = reference["items"] as! [[String: Any]]
    #expect(file.items.count == items.count)

    // Requests (strings) and their token split are lm-eval's.
    for (item, ref) in zip(file.items, items) {
      let arguments = ref["arguments"] as! [[String]]
      #expect(item.requests.map { [$0.context, $0.continuation] } == arguments)
      let contexts = ref["context_tokens"] as! [[Int]]
      let continuations = ref["continuation_tokens"] as! [[Int]]
      for (c, request) in item.requests.enumerated() {
        let pair = try encoder.encodePair(
          context: request.context, continuation: request.continuation)
        #expect(pair.context == contexts[c], "\(task) item \(item.index) choice \(c) context")
        #expect(
          pair.continuation == continuations[c],
          "\(task) item \(item.index) choice \(c) continuation")
      }
      #expect(item.label == ref["target"] as! Int)
    }

    for share in [true, false] {
      var scorer = MultipleChoiceScorer(model: model, encoder: encoder)
      scorer.shareContext = share
      scorer.batchRows = 64  // several forwards even for these small files
      let score = try scorer.score(file)
      for (item, ref) in zip(score.items, items) {
        let expected = ref["loglikelihoods"] as! [Double]
        for (got, want) in zip(item.loglikelihoods, expected) {
          #expect(abs(got - want) < 1e-3, "\(task) item \(item.index): \(got) vs \(want)")
        }
        #expect(item.correct == ((ref["acc"] as! Double) == 1))
        #expect(item.correctNorm == ((ref["acc_norm"] as! Double) == 1))
      }
      #expect(score.acc == reference.double("acc"))
      #expect(score.accNorm == reference.double("acc_norm"))
      #expect(abs(score.accStderr - reference.double("acc_stderr")) < 1e-12)
      #expect(abs(score.accNormStderr - reference.double("acc_norm_stderr")) < 1e-12)
    }
  }

  @Test func limitTakesTheFirstItems() throws {
    let url = EvalFixtures.model("llama")
    let scorer = MultipleChoiceScorer(
      model: try DecoderModel(url: url), encoder: try RequestEncoder(modelFolder: url))
    let score = try scorer.score(try TaskFile.read(path: EvalFixtures.task("piqa")), limit: 2)
    #expect(score.items.map(\.index) == [0, 1])
  }
}
