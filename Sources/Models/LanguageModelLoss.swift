import Foundation
import Tensors

/// The language-model loss at the top of the decoder: the model's head (final norm and LM
/// head) and cross-entropy over the vocabulary, forward and backward together (the logits are
/// needed only to make their own gradient). Rows go in chunks so the `[rows, V]` logits of a
/// large vocabulary stay bounded, as in `DecoderModel.applyHead`.
public enum LanguageModelLoss {
  /// Next-token targets for sequences laid end to end: row t of a sequence predicts token t + 1;
  /// each sequence's last row predicts nothing (−1).
  public static func nextTokenTargets(_ sequences: [[Int]]) -> [Int] {
    sequences.flatMap { sequence in
      sequence.indices.map { $0 + 1 < sequence.count ? sequence[$0 + 1] : -1 }
    }
  }

  /// The mean cross-entropy, over rows whose target is not negative, of `head(x)` for the
  /// residual stream `x` (`[rows, C]`); returns it with the number of rows that counted.
  ///
  /// dL/dx is *added* into `dx` when given. L is the mean, unless `gradientScale` gives the
  /// factor on each row's loss instead (e.g. 1 / predicted tokens of all micro-batches under
  /// gradient accumulation). The head needs Float32 weights when `dx` is given.
  public static func compute(
    x: UnsafePointer<Float>, rows: Int, targets: [Int], head: any LanguageModelHead,
    dx: UnsafeMutablePointer<Float>? = nil, gradientScale: Float? = nil
  ) -> (loss: Double, count: Int) {
    let c = head.hiddenSize
    return run(
      x: x, rows: rows, targets: targets, head: head, gradientScale: gradientScale,
      backward: dx.map { dx in
        { saved, xs, count, dLogits, first in
          head.backward(saved, x: xs, rows: count, dLogits: dLogits, dx: dx + first * c)
        }
      })
  }

  /// `compute` for the RMSNorm head `head(rms_norm(x, norm))`, with the head's own parameter
  /// gradients: the norm weight's into `normGradient`, the projection's into `headGradient`
  /// (each nil when not wanted).
  public static func compute(
    x: UnsafePointer<Float>, rows: Int, targets: [Int], norm: Tensor, head: Linear, eps: Float,
    dx: UnsafeMutablePointer<Float>? = nil, normGradient: Tensor? = nil,
    headGradient: LinearGradient? = nil, gradientScale: Float? = nil
  ) -> (loss: Double, count: Int) {
    let rmsHead = RMSNormHead(norm: norm, projection: head, eps: eps)
    let c = head.inFeatures
    let wanted = dx != nil || normGradient != nil || headGradient != nil
    return run(
      x: x, rows: rows, targets: targets, head: rmsHead, gradientScale: gradientScale,
      backward: wanted
        ? { saved, xs, count, dLogits, first in
          rmsHead.backward(
            saved, x: xs, rows: count, dLogits: dLogits, dx: dx.map { $0 + first * c },
            normGradient: normGradient, projectionGradient: headGradient)
        } : nil)
  }

  /// The chunked loop: `backward(saved, x rows, count, dLogits, first row)` runs per chunk
  /// when a gradient is wanted.
  static func run(
    x: UnsafePointer<Float>, rows: Int, targets: [Int], head: any LanguageModelHead,
    gradientScale: Float?,
    backward: (
      (any HeadActivations, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int) -> Void
    )?
  ) -> (loss: Double, count: Int) {
    precondition(targets.count == rows, "\(targets.count) targets for \(rows) rows")
    let c = head.hiddenSize
    let vocabulary = head.vocabSize
    let predicted = targets.filter { $0 >= 0 }.count
    guard predicted > 0 else { return (0, 0) }
    let scale = gradientScale ?? 1 / Float(predicted)
    let chunk = max(1, (1 << 26) / vocabulary)
    var total: Double = 0
    targets.withUnsafeBufferPointer { targets in
      var first = 0
      while first < rows {
        let count = min(chunk, rows - first)
        let xs = x + first * c  // [count, C]
        let logits = Tensor(uninitialized: [count, vocabulary])  // [count, V]
        let saved = head.forward(xs, rows: count, logits: logits.pointer)
        // The gradient of the logits overwrites them.
        let (loss, _) = Kernels.crossEntropy(
          logits.pointer, targets: targets.baseAddress! + first, rows: count,
          vocabulary: vocabulary, gradient: backward != nil ? logits.pointer : nil, scale: scale)
        total += loss
        backward?(saved, xs, count, logits.pointer, first)
        first += count
      }
    }
    return (total / Double(predicted), predicted)
  }
}
