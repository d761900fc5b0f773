import Foundation
import Tensors

/// The language-model loss at the top of the decoder: final RMSNorm, LM head and cross-entropy
/// over the vocabulary, forward and backward together (the logits are needed only to make
/// their own gradient). Rows go in chunks so the `[rows, V]` logits of a large vocabulary stay
/// bounded, as in `DecoderModel.applyHead`.
public enum LanguageModelLoss {
  /// Next-token targets for sequences laid end to end: row t of a sequence predicts token t + 1;
  /// each sequence's last row predicts nothing (−1).
  public static func nextTokenTargets(_ sequences: [[Int]]) -> [Int] {
    sequences.flatMap { sequence in
      sequence.indices.map { $0 + 1 < sequence.count ? sequence[$0 + 1] : -1 }
    }
  }

  /// The mean cross-entropy, over rows whose target is not negative, of
  /// `head(rms_norm(x, norm))` for the residual stream `x` (`[rows, C]`); returns it with the
  /// number of rows that counted.
  ///
  /// Gradients are *added*: dL/dx into `dx`, the norm weight's into `normGradient`, the head's
  /// into `headGradient` (each nil when not wanted). L is the mean, unless `gradientScale` gives
  /// the factor on each row's loss instead (e.g. 1 / predicted tokens of all micro-batches under
  /// gradient accumulation). The head needs Float32 weights when any gradient is asked for.
  public static func compute(
    x: UnsafePointer<Float>, rows: Int, targets: [Int], norm: Tensor, head: Linear, eps: Float,
    dx: UnsafeMutablePointer<Float>? = nil, normGradient: Tensor? = nil,
    headGradient: LinearGradient? = nil, gradientScale: Float? = nil
  ) -> (loss: Double, count: Int) {
    precondition(targets.count == rows, "\(targets.count) targets for \(rows) rows")
    let c = head.inFeatures
    let vocabulary = head.outFeatures
    let predicted = targets.filter { $0 >= 0 }.count
    guard predicted > 0 else { return (0, 0) }
    let scale = gradientScale ?? 1 / Float(predicted)
    let backward = dx != nil || normGradient != nil || headGradient != nil
    let chunk = max(1, (1 << 26) / vocabulary)
    var total: Double = 0
    targets.withUnsafeBufferPointer { targets in
      var first = 0
      while first < rows {
        let count = min(chunk, rows - first)
        let xs = x + first * c  // [count, C]
        let normed = Tensor(uninitialized: [count, c])  // [count, C]
        Kernels.rmsNorm(
          xs, weight: norm.pointer, eps: eps, out: normed.pointer, rows: count, columns: c)
        let logits = Tensor(uninitialized: [count, vocabulary])  // [count, V]
        head.apply(Linear.Input(normed.pointer), into: logits.pointer, rows: count)
        // The gradient of the logits overwrites them.
        let (loss, _) = Kernels.crossEntropy(
          logits.pointer, targets: targets.baseAddress! + first, rows: count,
          vocabulary: vocabulary, gradient: backward ? logits.pointer : nil, scale: scale)
        total += loss
        if backward {
          let needNormed = dx != nil || normGradient != nil
          let dNormed = needNormed ? Tensor(zeros: [count, c]) : nil  // [count, C]
          head.backward(
            x: normed.pointer, dOut: logits.pointer, dx: dNormed?.pointer, gradient: headGradient,
            rows: count)
          if let dNormed {
            Kernels.rmsNormBackward(
              dNormed.pointer, x: xs, weight: norm.pointer, eps: eps, dx: dx.map { $0 + first * c },
              dWeight: normGradient?.pointer, rows: count, columns: c)
          }
        }
        first += count
      }
    }
    return (total / Double(predicted), predicted)
  }
}
