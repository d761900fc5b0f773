import Foundation
import Models
import Tensors
import Testing

@Suite struct ExecutionTests {
  func logits(_ model: DecoderModel, _ sequences: [[Int]]) throws -> [[Float]] {
    var out = [[Float]](repeating: [], count: sequences.count)
    try model.forward(
      sequences,
      logits: { s, values, length in
        out[s] = Array(UnsafeBufferPointer(start: values, count: length * model.config.vocabSize))
      })
    return out
  }

  func sequences(_ variant: String) throws -> [[Int]] {
    let reference = try Fixtures.Reference(variant)
    return try (0..<reference.sequenceCount).map { try reference.tokens($0) }
  }

  @Test func streamingAndResidentWeightsAgreeExactly() throws {
    let input = try sequences("llama-gqa")
    let streamed = try DecoderModel(url: Fixtures.model("llama-gqa"))
    let resident = try DecoderModel(url: Fixtures.model("llama-gqa"), residentWeights: true)
    let first = try logits(streamed, input)
    #expect(try logits(resident, input) == first)
    #expect(try logits(resident, input) == first, "a second call reuses the resident layers")
  }

  @Test func chunkingDoesNotChangeResults() throws {
    let input = try sequences("qwen2-bias")
    let whole = try DecoderModel(url: Fixtures.model("qwen2-bias"))
    let chunked = try DecoderModel(url: Fixtures.model("qwen2-bias"))
    chunked.chunkRows = 1
    // One row at a time runs other kernels than the whole batch: equal within round-off.
    let one = try logits(chunked, input)
    let all = try logits(whole, input)
    for s in input.indices { #expect(Fixtures.agreeAcrossKernels(one[s], all[s]), "sequence \(s)") }
  }

  @Test func sequencesAreIndependentOfTheirBatch() throws {
    let input = try sequences("mistral")
    let model = try DecoderModel(url: Fixtures.model("mistral"))
    let together = try logits(model, input)
    for (s, sequence) in input.enumerated() {
      let alone = try logits(model, [sequence])[0]
      #expect(Fixtures.agreeAcrossKernels(alone, together[s]), "sequence \(s)")
    }
  }

  /// Also with sliding windows shorter than context + continuation, so a continuation's window
  /// starts inside the prefix (qwen3-sliding: 5 tokens, mistral-window: 6, qwen2-window: 4).
  @Test(arguments: [
    ("qwen2-bias", 1), ("qwen2-bias", 4096), ("qwen3-sliding", 4096), ("mistral-window", 1),
    ("qwen2-window", 4096),
  ])
  func sharedPrefixEqualsTheWholeSequence(variant: String, chunkRows: Int) throws {
    let model = try DecoderModel(url: Fixtures.model(variant))
    model.chunkRows = chunkRows
    let context = [5, 17, 99, 3, 42, 8]
    let choices = [[7, 9], [100, 2, 64], [11]]
    var shared: [[Float]] = []
    try model.forward(
      [context] + choices + [[1, 2, 3]], prefixes: [nil, 0, 0, 0, nil],
      logits: { s, values, length in
        shared.append(Array(UnsafeBufferPointer(start: values, count: length * 128)))
      })
    for (c, choice) in choices.enumerated() {
      let whole = try logits(model, [context + choice])[0]
      #expect(Fixtures.maxDifference(Array(whole[..<(context.count * 128)]), shared[0]) < 1e-5)
      #expect(Fixtures.maxDifference(Array(whole[(context.count * 128)...]), shared[c + 1]) < 1e-5)
    }
    #expect(throws: ModelError.self) { try model.forward([[1], [2]], prefixes: [1, nil]) }
  }

  @Test func chunksKeepPrefixesWithTheirContinuations() {
    let batch = Batch(lengths: [4, 4, 4, 4, 4], prefixes: [nil, 0, nil, 2, 2])
    #expect(batch.chunks(rowLimit: 4) == [0..<2, 2..<5])
    #expect(batch.positions == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7])
    #expect(Batch(lengths: [3, 3, 3]).chunks(rowLimit: 6) == [0..<2, 2..<3])
  }

  @Test func skippingLayersEqualsRunningTheRest() throws {
    let input = try sequences("llama-gqa")
    let model = try DecoderModel(url: Fixtures.model("llama-gqa"))
    var states: [Int: [Float]] = [:]
    try model.forward(input, layers: [0, 1, 4, 5]) { i, x, _ in states[i] = x.toArray() }
    #expect(states.count == 5)
    #expect(states[0] != states[1])
  }

  @Test(arguments: ["llama-gqa", "qwen2-bias", "llama-bf16"])
  func bf16PerplexityStaysWithinOnePercent(variant: String) throws {
    let input = try sequences(variant)
    func nll(_ precision: Precision) throws -> Double {
      let model = try DecoderModel(url: Fixtures.model(variant), precision: precision)
      var total = 0.0
      var count = 0
      try model.forward(
        input,
        logits: { s, values, length in
          let v = model.config.vocabSize
          for t in 0..<(length - 1) {
            let row = UnsafeBufferPointer(start: values + t * v, count: v)
            let maximum = row.max()!
            let sum = row.reduce(0.0) { $0 + exp(Double($1 - maximum)) }
            total -= Double(row[input[s][t + 1]] - maximum) - log(sum)
            count += 1
          }
        })
      return exp(total / Double(count))
    }
    let exact = try nll(.f32)
    let fast = try nll(.bf16)
    #expect(abs(fast - exact) / exact < 0.01, "bf16 perplexity \(fast) against f32 \(exact)")
  }

  /// A bf16 request holds bf16 weights only where bf16 products are native; elsewhere the
  /// weights are widened to Float32 when the layer loads and the model says it computes in f32.
  @Test func bf16RequestFollowsTheCPU() throws {
    let model = try DecoderModel(url: Fixtures.model("llama-bf16"), precision: .bf16)
    #expect(model.precision == Precision.bf16.effective)
    let layer = try #require(try model.layer(0) as? LlamaLayer)
    switch layer.attention.qkv.weight {
    case .bf16: #expect(CPU.nativeBF16)
    case .f32: #expect(!CPU.nativeBF16)
    }
  }
}
