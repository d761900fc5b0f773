import Foundation
import Tensors

/// AdamW exactly as `torch.optim.AdamW` computes it on the CPU (its single-tensor path, no
/// amsgrad): decoupled weight decay, then the moment updates, then the bias-corrected step.
/// Scalars are computed in Double and rounded to Float32 where PyTorch rounds them.
///
///     p ← p · (1 − lr·λ)
///     m ← m + (1 − β1)·(g − m)
///     v ← v·β2 + (1 − β2)·g²
///     p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
public final class AdamW {
  public let parameters: [Tensor]
  public let beta1: Double
  public let beta2: Double
  public let eps: Double
  public let weightDecay: Double
  /// Steps taken so far (t of the last step).
  public private(set) var steps = 0
  /// First and second moments, one per parameter, shaped like it.
  public let firstMoments: [Tensor]
  public let secondMoments: [Tensor]

  /// Defaults are PyTorch's, but for the weight decay: the design notes' 1e-3.
  public init(
    parameters: [Tensor], beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
    weightDecay: Double = 1e-3
  ) {
    self.parameters = parameters
    self.beta1 = beta1
    self.beta2 = beta2
    self.eps = eps
    self.weightDecay = weightDecay
    firstMoments = parameters.map { Tensor(zeros: $0.shape) }
    secondMoments = parameters.map { Tensor(zeros: $0.shape) }
  }

  /// One update of every parameter from `gradients` (one per parameter, same shapes, same
  /// order) at `learningRate`.
  public func step(gradients: [Tensor], learningRate lr: Double) {
    precondition(gradients.count == parameters.count, "one gradient per parameter")
    steps += 1
    let t = Double(steps)
    let decay = Float(1 - lr * weightDecay)
    let keep1 = Float(1 - beta1)
    let beta2 = Float(self.beta2)
    let keep2 = Float(1 - self.beta2)
    let stepSize = Float(-(lr / (1 - pow(beta1, t))))
    let correction2 = Float((1 - pow(self.beta2, t)).squareRoot())
    let eps = Float(self.eps)
    for (index, parameter) in parameters.enumerated() {
      let gradient = gradients[index]
      precondition(gradient.count == parameter.count, "gradient \(index) has the wrong size")
      let p = parameter.pointer  // [n]
      let g = gradient.pointer  // [n]
      let m = firstMoments[index].pointer  // [n]
      let v = secondMoments[index].pointer  // [n]
      Parallel.chunks(parameter.count, grain: 1 << 14) { range in
        for i in range {
          if weightDecay != 0 { p[i] *= decay }
          // torch.lerp with weight < 0.5: m + w·(g − m)
          m[i] = m[i] + keep1 * (g[i] - m[i])
          v[i] = v[i] * beta2 + keep2 * g[i] * g[i]
          let denominator = v[i].squareRoot() / correction2 + eps
          p[i] = p[i] + stepSize * m[i] / denominator
        }
      }
    }
  }
}

/// Linear warm-up from 0, then cosine decay from the peak rate to `minimum`, as
/// `transformers.get_cosine_with_min_lr_schedule_with_warmup` (half a cycle) computes it: the
/// rate for optimizer step `step` (0-based, the number of steps already taken) is
///
///     peak · step / warmup                                   while step < warmup
///     min + (peak − min) · ½(1 + cos(π · progress))          after, progress = (step − warmup) / (total − warmup)
///
/// Like transformers, the first step of a warm-up runs at rate 0. Past `totalSteps` the rate
/// stays at `minimum` (transformers would climb the cosine again).
public struct LearningRateSchedule: Sendable, Equatable {
  public var peak: Double
  public var minimum: Double
  public var warmupSteps: Int
  public var totalSteps: Int

  /// Defaults from the design notes: 2e-4 decaying to 5e-5.
  public init(peak: Double = 2e-4, minimum: Double = 5e-5, warmupSteps: Int, totalSteps: Int) {
    self.peak = peak
    self.minimum = minimum
    self.warmupSteps = warmupSteps
    self.totalSteps = totalSteps
  }

  public func rate(at step: Int) -> Double {
    if step < warmupSteps { return peak * Double(step) / Double(max(1, warmupSteps)) }
    let progress = min(
      1, Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps)))
    let minimumRate = minimum / peak
    let factor = 0.5 * (1 + cos(Double.pi * progress))
    return peak * max(0, factor * (1 - minimumRate) + minimumRate)
  }
}

/// Gradient clipping by global norm, as `torch.nn.utils.clip_grad_norm_` (norm 2): the norm of
/// all gradients together, and every gradient scaled by `min(1, maxNorm / (norm + 1e-6))`.
public enum GradientClipping {
  /// The global 2-norm of `gradients` (summed in Double).
  public static func globalNorm(_ gradients: [Tensor]) -> Double {
    var sum: Double = 0
    for gradient in gradients {
      let g = gradient.pointer  // [n]
      var squares: Double = 0
      for i in 0..<gradient.count { squares += Double(g[i]) * Double(g[i]) }
      sum += squares
    }
    return sum.squareRoot()
  }

  /// Scales `gradients` in place so their global norm is at most about `maxNorm`; returns the
  /// norm before clipping (non-finite when a gradient is; the gradients are then left as they
  /// are, for the caller to skip the step).
  @discardableResult
  public static func clip(_ gradients: [Tensor], maxNorm: Double) -> Double {
    let norm = globalNorm(gradients)
    guard norm.isFinite else { return norm }
    let coefficient = Float(min(1, maxNorm / (norm + 1e-6)))
    if coefficient < 1 {
      for gradient in gradients {
        let g = gradient.pointer  // [n]
        Parallel.chunks(gradient.count, grain: 1 << 15) { range in
          for i in range { g[i] *= coefficient }
        }
      }
    }
    return norm
  }
}
