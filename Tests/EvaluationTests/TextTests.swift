import Evaluation
import Foundation
import Models
import Testing

/// Rolling-window perplexity equals lm-eval's and a direct transformers computation; KL
/// divergence and its companions equal a direct NumPy computation.
@Suite struct TextTests {
  static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-6) -> Bool {
    abs(a - b) <= tolerance * max(1, abs(b))
  }

  static func documents(_ file: String) throws -> [String] {
    try TextFile.read(path: EvalFixtures.text(file))
  }

  @Test(arguments: EvalFixtures.models)
  func perplexityMatchesReference(model name: String) throws {
    let url = EvalFixtures.model(name)
    var scorer = TextScorer(
      model: try DecoderModel(url: url, residentWeights: true),
      encoder: try RequestEncoder(modelFolder: url))
    scorer.batchRows = 80
    let references = EvalFixtures.modelReference(name)["perplexity"] as! [[String: Any]]
    for ref in references {
      let documents = try Self.documents(ref["file"] as! String)
      let (result, divergence) = try scorer.run(
        documents: documents, seqLen: ref.int("seq_len"), stride: ref.int("stride"))
      let label = "\(ref["file"]!) seq-len \(ref["seq_len"]!) stride \(ref["stride"]!)"
      #expect(divergence == nil)
      #expect(result.tokens == ref.int("tokens"), "\(label)")
      #expect(result.words == ref.int("words"), "\(label)")
      #expect(result.bytes == ref.int("bytes"), "\(label)")
      #expect(Self.close(result.nll, ref.double("nll")), "\(label): \(result.nll)")
      #expect(Self.close(result.nllStderr, ref.double("nll_stderr"), 1e-4), "\(label)")
      #expect(Self.close(result.perplexity, ref.double("perplexity")), "\(label)")
      #expect(Self.close(result.wordPerplexity, ref.double("word_perplexity")), "\(label)")
      #expect(Self.close(result.bytePerplexity, ref.double("byte_perplexity")), "\(label)")
      #expect(Self.close(result.bitsPerByte, ref.double("bits_per_byte")), "\(label)")
      if let lmEval = ref["lm_eval"] as? [String: Any] {
        // lm-eval's own loglikelihood_rolling and wikitext metrics.
        #expect(Self.close(result.wordPerplexity, lmEval.double("word_perplexity"), 1e-5))
        #expect(Self.close(result.bytePerplexity, lmEval.double("byte_perplexity"), 1e-5))
        #expect(Self.close(result.bitsPerByte, lmEval.double("bits_per_byte"), 1e-5))
      }
    }
  }

  @Test func divergenceMatchesNumPy() throws {
    let model = try DecoderModel(url: EvalFixtures.model("llama-pruned"), residentWeights: true)
    let original = try DecoderModel(url: EvalFixtures.model("llama"), residentWeights: true)
    var scorer = TextScorer(
      model: model, encoder: try RequestEncoder(modelFolder: EvalFixtures.model("llama-pruned")))
    scorer.batchRows = 70
    for ref in EvalFixtures.reference["kl"] as! [[String: Any]] {
      let documents = try Self.documents(ref["file"] as! String)
      let (result, divergence) = try scorer.run(
        documents: documents, seqLen: ref.int("seq_len"), stride: ref.int("stride"),
        reference: original)
      let d = try #require(divergence)
      let label = "\(ref["file"]!) stride \(ref["stride"]!)"
      #expect(d.tokens == ref.int("tokens"), "\(label)")
      #expect(Self.close(d.klMean, ref.double("kl_mean"), 1e-4), "\(label): \(d.klMean)")
      #expect(Self.close(d.klMedian, ref.double("kl_median"), 1e-4), "\(label)")
      #expect(Self.close(d.klP99, ref.double("kl_p99"), 1e-4), "\(label)")
      #expect(Self.close(d.top1Agreement, ref.double("top1_agreement"), 1e-12), "\(label)")
      #expect(Self.close(d.deltaPMean, ref.double("delta_p_mean"), 1e-4), "\(label)")
      // The same pass gives both perplexities.
      let plain = try TextScorer(
        model: original, encoder: scorer.encoder
      ).run(documents: documents, seqLen: ref.int("seq_len"), stride: ref.int("stride")).0
      // The two passes batch the windows differently (other row counts, so other kernels):
      // their Float32 logits agree to about 1e-6 of their scale (see ModelsTests'
      // `kernelTolerance`), so the mean NLL does to 1e-6 relative (observed: 1e-8 with AVX2,
      // 0 with AVX-512).
      #expect(Self.close(d.reference.nll, plain.nll, 1e-6))
      #expect(result.tokens == plain.tokens)
    }
  }

  @Test func rollingWindowsCoverEveryTokenOnce() {
    let tokens = Array(10..<47)
    for (seqLen, stride) in [(8, 8), (8, 3), (8, 1), (50, 50), (1, 1)] {
      let windows = RollingWindows.make(
        tokens: tokens, prefixToken: 1, seqLen: seqLen, stride: stride)
      #expect(windows.flatMap(\.targets) == tokens)
      for w in windows {
        #expect(w.input.count <= seqLen)
        #expect(w.targets.count <= w.input.count)
      }
      #expect(windows[0].input.first == 1)
    }
  }

  @Test func textFilesFailWithFileAndLine() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "streamline-text-\(UUID().uuidString).jsonl"
    ).path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Data("{\"text\": \"a\"}\n{\"body\": 3}\n".utf8).write(to: URL(fileURLWithPath: path))
    #expect(throws: EvaluationError.self) { try TextFile.read(path: path) }
    do {
      _ = try TextFile.read(path: path)
    } catch {
      #expect("\(error)".hasPrefix("\(path):2: "))
    }
  }
}
