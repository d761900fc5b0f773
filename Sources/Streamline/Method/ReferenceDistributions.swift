import Checkpoint
import Evaluation
import Foundation
import Models
import Tensors

/// The original model's next-token distributions on fixed windows, against which candidates
/// (the model with layers skipped, some of them compensated in memory) are measured without
/// writing a checkpoint: one forward of the windows per candidate.
///
/// The original's final residual states of the scored rows are kept (`[rows, C]`, far smaller
/// than their logits) and its logits recomputed from them by the head, a block of rows at a
/// time, once for all the candidates measured together; each candidate's logits come from its
/// own final states through the same head.
public final class ReferenceDistributions {
  public let windows: [TextWindow]
  /// The original model's own perplexity of the windows (its KL is 0).
  public private(set) var original = CandidateLoss(perplexity: .nan, kl: 0, tokens: 0)
  let head: any LanguageModelHead
  let states: Tensor
  /// Each window's first row in `states`.
  let offsets: [Int]
  let memoryBudget: Int
  /// Rows whose logits are held at once: 2²⁶ values, as `DecoderModel.applyHead` bounds them.
  var headRows: Int

  /// Runs `model` over `windows` once; `memoryBudget` bounds the rows in one forward.
  public init(model: DecoderModel, windows: [TextWindow], memoryBudget: Int) throws {
    guard !windows.isEmpty else { throw CompressionError.noScoringSequences }
    self.windows = windows
    self.memoryBudget = memoryBudget
    head = try model.head()
    headRows = max(1, (1 << 26) / head.vocabSize)
    offsets = windows.reduce(into: [0]) { $0.append($0.last! + $1.targets.count) }
    states = Tensor(uninitialized: [offsets.last!, model.config.hiddenSize])
    original = try measure([CandidateModel(model)], teacher: false)[0]
  }

  /// The candidate that runs `model` through `layers` (all by default), `substitutes[i]` in
  /// place of layer i.
  public func measure(
    _ model: DecoderModel, layers: [Int]? = nil, substitutes: [Int: any DecoderLayer] = [:]
  ) throws -> CandidateLoss {
    try measure([CandidateModel(model, layers: layers, substitutes: substitutes)])[0]
  }

  /// Each candidate's loss; the original's logits are computed once for all of them.
  /// `progress(done, total)` follows the forwards and the head passes.
  public func measure(
    _ candidates: [CandidateModel], progress: ((Int, Int) -> Void)? = nil
  ) throws -> [CandidateLoss] {
    for candidate in candidates {
      guard candidate.model.config.vocabSize == head.vocabSize,
        candidate.model.config.hiddenSize == head.hiddenSize
      else {
        preconditionFailure("a candidate has the original's vocabulary and width")
      }
    }
    return try measure(candidates, teacher: true, progress: progress)
  }

  /// Without `teacher`, the one candidate is the original itself: its final states are kept as
  /// the reference and its KL is 0.
  private func measure(
    _ candidates: [CandidateModel], teacher: Bool, progress: ((Int, Int) -> Void)? = nil
  ) throws -> [CandidateLoss] {
    guard !candidates.isEmpty else { return [] }
    let c = head.hiddenSize
    let vocabulary = head.vocabSize
    let rows = offsets.last!
    var nll = [[Double]](repeating: [Double](repeating: 0, count: rows), count: candidates.count)
    var kl = nll
    // Each candidate keeps its final states of a group's scored rows until the head runs.
    let rowLimit = max(1, memoryBudget / ((1 + candidates.count) * c * MemoryLayout<Float>.size))
    let groups = Batch(lengths: windows.map(\.input.count)).chunks(rowLimit: rowLimit)
    let teacherLogits = teacher ? Tensor(uninitialized: [headRows, vocabulary]) : nil
    let studentLogits = Tensor(uninitialized: [headRows, vocabulary])
    // Per group, each candidate's forward and then the head over all of them.
    let steps = groups.count * (candidates.count + 1)
    var done = 0
    func advance() {
      done += 1
      progress?(done, steps)
    }
    for group in groups {
      let groupOffset = offsets[group.lowerBound]
      let groupRows = offsets[group.upperBound] - groupOffset
      var kept: [Tensor] = []
      var finals: [UnsafeMutablePointer<Float>] = []
      for candidate in candidates {
        let final: UnsafeMutablePointer<Float>
        if teacher {
          kept.append(Tensor(uninitialized: [groupRows, c]))
          final = kept.last!.pointer
        } else {
          final = states.row(groupOffset)
        }
        let depth = candidate.layers?.count ?? candidate.model.config.numLayers
        try candidate.model.forward(
          windows[group].map(\.input), layers: candidate.layers,
          substitutes: candidate.substitutes,
          hiddenState: { step, x, batch in
            guard step == depth else { return }
            for w in group {
              let segment = batch.segments[w - group.lowerBound]
              let count = self.windows[w].targets.count
              (final + (self.offsets[w] - groupOffset) * c).update(
                from: x.row(segment.upperBound - count), count: count * c)
            }
          })
        finals.append(final)
        advance()
      }
      // The group's scored rows lie end to end, in `states` as in each candidate's finals.
      let targets = windows[group].flatMap(\.targets)
      for first in stride(from: 0, to: groupRows, by: headRows) {
        let count = min(headRows, groupRows - first)
        if let teacherLogits {
          _ = head.forward(
            states.row(groupOffset + first), rows: count, logits: teacherLogits.pointer)
          try MatMul.checkFailures()
        }
        for (k, final) in finals.enumerated() {
          _ = head.forward(final + first * c, rows: count, logits: studentLogits.pointer)
          try MatMul.checkFailures()
          nll[k].withUnsafeMutableBufferPointer { nll in
            kl[k].withUnsafeMutableBufferPointer { kl in
              DispatchQueue.concurrentPerform(iterations: count) { i in
                let row = studentLogits.row(i)
                let out = groupOffset + first + i
                nll[out] =
                  LogSoftmax.logSumExp(row, count: vocabulary) - Double(row[targets[first + i]])
                if let teacherLogits {
                  kl[out] = RowSoftmax.klDivergence(
                    teacher: teacherLogits.row(i), student: row, count: vocabulary,
                    gradientScale: nil)
                }
              }
            }
          }
        }
      }
      advance()
    }
    return candidates.indices.map { k in
      CandidateLoss(
        perplexity: exp(nll[k].reduce(0, +) / Double(max(1, rows))),
        kl: kl[k].reduce(0, +) / Double(max(1, rows)), tokens: rows)
    }
  }
}
