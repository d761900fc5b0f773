import Checkpoint
import Evaluation
import Foundation
import Models

/// Held-out perplexity after `prune`: the original, plain removal of the same block, and the
/// pruned model, on calibration sequences that neither scoring nor training saw.
public struct HeldOutEvaluation: Codable, Sendable {
  public let sequences: Int
  /// Predicted tokens per model.
  public let tokens: Int
  public let original: Double
  public let pruned: Double
  /// Plain removal of the replaced block (nil without a replacement: it is the pruned model).
  public let plainRemoval: Double?
  /// (log ppl_plain − log ppl_pruned) / (log ppl_plain − log ppl_original): the share of the
  /// log-perplexity lost by plain removal that the replacement wins back.
  public let recovered: Double?

  enum CodingKeys: String, CodingKey {
    case sequences, tokens, original, pruned, recovered
    case plainRemoval = "plain_removal"
  }

  public var text: String {
    var out = String(
      format: "held-out perplexity (%d sequences, %d tokens): original %.3f, pruned %.3f",
      sequences, tokens, original, pruned)
    if let plainRemoval { out += String(format: ", plain removal %.3f", plainRemoval) }
    if let recovered {
      out += String(format: "; recovered %.1f%%", recovered * 100)
    } else if plainRemoval != nil {
      out += "; recovered undefined (plain removal loses nothing to recover)"
    }
    return out
  }

  /// As synthesized, except that an undefined recovered share (a plain-removal perplexity but
  /// no share) is written as null rather than left out, so readers see it was undefined.
  public func encode(to encoder: Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(sequences, forKey: .sequences)
    try container.encode(tokens, forKey: .tokens)
    try container.encode(original, forKey: .original)
    try container.encode(pruned, forKey: .pruned)
    try container.encodeIfPresent(plainRemoval, forKey: .plainRemoval)
    if plainRemoval != nil {
      try container.encode(recovered, forKey: .recovered)
    } else {
      try container.encodeIfPresent(recovered, forKey: .recovered)
    }
  }

  /// Scores `sequences` on `original` (all layers and, when `plainRemoval` names layers, without
  /// them) and on `pruned`.
  public static func measure(
    original: DecoderModel, pruned: DecoderModel, plainRemoval: [Int]?, sequences: [[Int]],
    progress: Progress? = nil
  ) throws -> HeldOutEvaluation {
    let full = try perplexity(original, layers: nil, sequences: sequences)
    progress?.update(1, of: plainRemoval == nil ? 2 : 3)
    let after = try perplexity(pruned, layers: nil, sequences: sequences)
    progress?.update(2, of: plainRemoval == nil ? 2 : 3)
    var plain: Double?
    var recovered: Double?
    if let plainRemoval {
      let removed = Set(plainRemoval)
      let kept = (0..<original.config.numLayers).filter { !removed.contains($0) }
      let value = try perplexity(original, layers: kept, sequences: sequences)
      progress?.update(3, of: 3)
      plain = value.perplexity
      recovered = recoveredShare(
        original: full.perplexity, plainRemoval: value.perplexity, pruned: after.perplexity)
    }
    return HeldOutEvaluation(
      sequences: sequences.count, tokens: full.tokens, original: full.perplexity,
      pruned: after.perplexity, plainRemoval: plain, recovered: recovered)
  }

  /// Nil when undefined: plain removal loses nothing (a block whose layers add nothing, an
  /// all-zero model), so there is no loss to win back, or a perplexity is not finite.
  public static func recoveredShare(original: Double, plainRemoval: Double, pruned: Double)
    -> Double?
  {
    let lost = log(plainRemoval) - log(original)
    let share = (log(plainRemoval) - log(pruned)) / lost
    return lost != 0 && share.isFinite ? share : nil
  }

  /// Perplexity of `sequences` through `layers` (all by default), each sequence on its own.
  static func perplexity(_ model: DecoderModel, layers: [Int]?, sequences: [[Int]]) throws -> (
    perplexity: Double, tokens: Int
  ) {
    var nll = [Double](repeating: 0, count: sequences.count)
    var tokens = 0
    let vocabulary = model.config.vocabSize
    for batch in Batch(lengths: sequences.map(\.count)).chunks(rowLimit: 4096) {
      let slice = Array(sequences[batch])
      try model.forward(
        slice, layers: layers,
        logits: { s, logits, length in
          var sum = 0.0
          for t in 0..<(length - 1) {
            sum -= LogSoftmax.value(logits + t * vocabulary, count: vocabulary, at: slice[s][t + 1])
          }
          nll[batch.lowerBound + s] = sum
        })
      tokens += slice.reduce(0) { $0 + $1.count - 1 }
    }
    return (exp(nll.reduce(0, +) / Double(max(1, tokens))), tokens)
  }

  /// Adds `evaluation` to the `streamline.json` of a checkpoint still being written, before its
  /// commit: the manifest is part of the result, so it never appears without its evaluation.
  public func record(in output: OutputFolder) throws {
    let url = output.file("streamline.json")
    guard let data = FileManager.default.contents(atPath: url.path),
      var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    else { throw StreamlineError.badRequest("\(url.path): cannot read the manifest") }
    object["evaluation"] = try JSONSerialization.jsonObject(with: JSONOutput.encode(self))
    try output.write(Surgery.json(object), as: "streamline.json")
  }
}
