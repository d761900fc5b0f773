import Foundation
import Models
import Testing

/// Logits and every hidden state against `transformers` on each supported variant.
@Suite struct ParityTests {
  @Test(arguments: Fixtures.variants)
  func matchesTransformers(variant: String) throws {
    let reference = try Fixtures.Reference(variant)
    let model = try DecoderModel(url: Fixtures.model(variant))
    #expect(model.config.totalParameters == reference.parameters)
    let sequences = try (0..<reference.sequenceCount).map { try reference.tokens($0) }

    var hidden: [Int: [Float]] = [:]
    var logits: [Int: [Float]] = [:]
    try model.forward(
      sequences,
      hiddenState: { i, x, batch in
        for (s, segment) in batch.segments.enumerated() {
          let c = model.config.hiddenSize
          let values = Array(x.data[(segment.lowerBound * c)..<(segment.upperBound * c)])
          let expected = try reference.floats("hidden.\(s).\(i)")
          let difference = Fixtures.maxDifference(values, expected)
          #expect(difference < 1e-4, "hidden state \(i) of sequence \(s) differs by \(difference)")
        }
        hidden[i] = []
      },
      logits: { s, values, length in
        logits[s] = Array(
          UnsafeBufferPointer(start: values, count: length * model.config.vocabSize))
      })
    #expect(hidden.count == model.config.numLayers + 1)
    let v = model.config.vocabSize
    for s in 0..<sequences.count {
      let difference = Fixtures.maxDifference(logits[s]!, try reference.floats("logits.\(s)"))
      #expect(difference < 1e-4, "logits of sequence \(s) differ by \(difference)")
      // Mean next-token NLL, as transformers' loss.
      var total: Double = 0
      for t in 0..<(sequences[s].count - 1) {
        let row = logits[s]![(t * v)..<((t + 1) * v)].map(Double.init)
        let top = row.max()!
        let logSum = top + log(row.reduce(0) { $0 + exp($1 - top) })
        total += logSum - row[sequences[s][t + 1]]
      }
      let nll = total / Double(sequences[s].count - 1)
      let relative = abs(nll - reference.nll(s)) / reference.nll(s)
      #expect(relative < 1e-4, "NLL of sequence \(s): \(nll) vs \(reference.nll(s))")
    }
  }
}
