import Foundation

/// The backward of each kernel in `Kernels`, paired with it, and the losses that start a
/// backward pass.
///
/// Convention (as in llm.c): a backward *adds* into the gradients it produces (`+=`); callers
/// zero gradient buffers explicitly. Exceptions say so (cross-entropy writes its gradient so it
/// can overwrite the logits in place).
extension Kernels {
  /// Backward of `rmsNorm`: with `s = 1 / sqrt(mean(x²) + eps)` and `g = dOut · weight`,
  ///
  ///     dx      += s · g − s³ · x · mean(g · x)
  ///     dWeight += Σ_rows dOut · x · s
  ///
  /// `s` is recomputed from x (one pass, cheaper than storing it). `dx` may be nil when only the
  /// weight's gradient is wanted, `dWeight` when the weight is frozen.
  ///
  /// With `weightOffset` (Gemma's `1 + w`), the scale is `weightOffset + weight`; the weight's
  /// gradient is the same.
  public static func rmsNormBackward(
    _ dOut: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    eps: Float, dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
    rows: Int, columns: Int, weightOffset: Float = 0
  ) {
    columnSums(rows: rows, columns: columns, into: dWeight) { range, partial in
      for r in range {
        let row = x + r * columns  // [C]
        let d = dOut + r * columns  // [C]
        let scale = inverseRMS(row, columns: columns, eps: eps)
        if let dx {
          let dst = dx + r * columns  // [C]
          var dot: Float = 0
          for c in 0..<columns { dot += d[c] * (weightOffset + weight[c]) * row[c] }
          let correction = scale * scale * scale * dot / Float(columns)
          for c in 0..<columns {
            dst[c] += scale * d[c] * (weightOffset + weight[c]) - correction * row[c]
          }
        }
        if let partial {
          for c in 0..<columns { partial[c] += d[c] * row[c] * scale }
        }
      }
    }
  }

  /// Backward of `layerNorm`: with `x̂ = (x − mean)·s` and `g = dOut · weight`,
  ///
  ///     dx      += s · (g − mean(g) − x̂ · mean(g · x̂))
  ///     dWeight += Σ_rows dOut · x̂,   dBias += Σ_rows dOut
  ///
  /// The moments are recomputed from x. Any of `dx`, `dWeight`, `dBias` may be nil; `weight`
  /// nil means no affine parameters.
  public static func layerNormBackward(
    _ dOut: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
    eps: Float, dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
    dBias: UnsafeMutablePointer<Float>?, rows: Int, columns: Int
  ) {
    if let dBias { addBiasBackward(dOut, dBias: dBias, rows: rows, columns: columns) }
    columnSums(rows: rows, columns: columns, into: dWeight) { range, partial in
      let normed = UnsafeMutablePointer<Float>.allocate(capacity: columns)  // [C] x̂
      defer { normed.deallocate() }
      for r in range {
        let row = x + r * columns  // [C]
        let d = dOut + r * columns  // [C]
        let (mean, scale) = layerNormMoments(row, columns: columns, eps: eps)
        for c in 0..<columns { normed[c] = (row[c] - mean) * scale }
        if let dx {
          let dst = dx + r * columns  // [C]
          var sumG: Float = 0
          var sumGX: Float = 0
          for c in 0..<columns {
            let g = d[c] * (weight?[c] ?? 1)
            sumG += g
            sumGX += g * normed[c]
          }
          let meanG = sumG / Float(columns)
          let meanGX = sumGX / Float(columns)
          for c in 0..<columns {
            let g = d[c] * (weight?[c] ?? 1)
            dst[c] += scale * (g - meanG - normed[c] * meanGX)
          }
        }
        if let partial {
          for c in 0..<columns { partial[c] += d[c] * normed[c] }
        }
      }
    }
  }

  /// Backward of `relu`, from its output `y`: `dx += dOut` where `y > 0`.
  public static func reluBackward(
    _ dOut: UnsafePointer<Float>, output y: UnsafePointer<Float>,
    dx: UnsafeMutablePointer<Float>, count: Int
  ) {
    Parallel.chunks(count, grain: 16384) { range in
      for i in range where y[i] > 0 { dx[i] += dOut[i] }
    }
  }

  /// Backward of `siluGate`: `a = silu(g) · u` with `silu(g) = g·σ(g)`, so
  ///
  ///     dg += da · u · σ(g) · (1 + g · (1 − σ(g)))
  ///     du += da · silu(g)
  ///
  /// `fused` and `dFused` are `[rows, 2 · width]` (gate half, then up half); `dOut` is
  /// `[rows, width]`.
  public static func siluGateBackward(
    _ dOut: UnsafePointer<Float>, fused: UnsafePointer<Float>,
    dFused: UnsafeMutablePointer<Float>, rows: Int, width: Int
  ) {
    gateBackward(SiLU.self, dOut, fused: fused, dFused: dFused, rows: rows, width: width)
  }

  /// Backward of `geluTanhGate`: `a = gelu_tanh(g) · u` with `gelu_tanh(g) = g·σ(2y)`,
  /// `y = √(2/π)·(g + 0.044715·g³)`, so
  ///
  ///     dg += da · u · (σ(2y) + g · σ(2y)·(1 − σ(2y)) · 2y')     y' = √(2/π)·(1 + 3·0.044715·g²)
  ///     du += da · gelu_tanh(g)
  ///
  /// Layouts as `siluGateBackward`.
  public static func geluTanhGateBackward(
    _ dOut: UnsafePointer<Float>, fused: UnsafePointer<Float>,
    dFused: UnsafeMutablePointer<Float>, rows: Int, width: Int
  ) {
    gateBackward(GELUTanh.self, dOut, fused: fused, dFused: dFused, rows: rows, width: width)
  }

  /// Backward of `gate`: adds each activation's `gradients` into the gate and up halves of
  /// `dFused` (`[rows, 2·width]`).
  @inline(__always)
  static func gateBackward<Activation: GateActivation>(
    _: Activation.Type, _ dOut: UnsafePointer<Float>, fused: UnsafePointer<Float>,
    dFused: UnsafeMutablePointer<Float>, rows: Int, width: Int
  ) {
    Parallel.chunks(rows, grain: max(1, 16384 / max(width, 1))) { range in
      for r in range {
        let gate = fused + r * 2 * width  // [I]
        let up = gate + width  // [I]
        let dGate = dFused + r * 2 * width  // [I]
        let dUp = dGate + width  // [I]
        let d = dOut + r * width  // [I]
        for c in 0..<width {
          let (gateGradient, upGradient) = Activation.gradients(d[c], gate: gate[c], up: up[c])
          dGate[c] += gateGradient
          dUp[c] += upGradient
        }
      }
    }
  }

  /// Backward of `softcap` through its tanh values `t`, in place on the gradient of its output:
  /// `dx = dOut · (1 − t²) · scale` on the kept columns (the others are left alone).
  public static func softcapBackward(
    _ gradient: UnsafeMutablePointer<Float>, tanh: UnsafePointer<Float>, rows: Int,
    columns: Int, firstPosition: Int, scale: Float
  ) {
    for r in 0..<rows {
      let d = gradient + r * columns  // [columns]
      let t = tanh + r * columns  // [columns]
      let keep = min(columns, firstPosition + r + 1)
      for j in 0..<keep { d[j] *= (1 - t[j] * t[j]) * scale }
    }
  }

  /// Backward of `addBias`: `dBias[c] += Σ_rows dOut[r, c]`.
  public static func addBiasBackward(
    _ dOut: UnsafePointer<Float>, dBias: UnsafeMutablePointer<Float>, rows: Int, columns: Int
  ) {
    columnSums(rows: rows, columns: columns, into: dBias) { range, partial in
      for r in range {
        let d = dOut + r * columns  // [C]
        for c in 0..<columns { partial![c] += d[c] }
      }
    }
  }

  /// Backward of `causalSoftmax`, in place: `gradient` holds dL/dprobabilities on entry and
  /// dL/dscores (the raw scores, before `scale`) on exit:
  ///
  ///     dScores = scale · p · (dp − Σ_j p_j · dp_j)
  ///
  /// Masked columns get zero. One thread, like the forward.
  public static func causalSoftmaxBackward(
    _ gradient: UnsafeMutablePointer<Float>, probabilities: UnsafePointer<Float>, rows: Int,
    columns: Int, firstPosition: Int, scale: Float
  ) {
    for r in 0..<rows {
      let p = probabilities + r * columns  // [columns]
      let d = gradient + r * columns  // [columns]
      let keep = min(columns, firstPosition + r + 1)
      var dot: Float = 0
      for j in 0..<keep { dot += p[j] * d[j] }
      for j in 0..<keep { d[j] = scale * p[j] * (d[j] - dot) }
      for j in keep..<columns { d[j] = 0 }
    }
  }

  /// Mean squared error over `count` values, `mean((prediction − target)²)` as
  /// `torch.nn.functional.mse_loss` computes it; with `gradient`,
  /// `gradient += scale · 2 · (prediction − target) / count` (`scale` being dL/dmse, e.g. 1, or
  /// 1/steps under gradient accumulation). The sum is taken in Double.
  @discardableResult
  public static func mseLoss(
    _ prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, count: Int,
    gradient: UnsafeMutablePointer<Float>? = nil, scale: Float = 1
  ) -> Double {
    guard count > 0 else { return 0 }
    let parts = min(Parallel.cores, max(1, count / (1 << 15)))
    let step = (count + parts - 1) / parts
    let sums = UnsafeMutableBufferPointer<Double>.allocate(capacity: parts)
    defer { sums.deallocate() }
    let factor = scale * 2 / Float(count)
    DispatchQueue.concurrentPerform(iterations: parts) { p in
      var sum: Double = 0
      for i in (p * step)..<min(count, (p + 1) * step) {
        let difference = prediction[i] - target[i]
        sum += Double(difference) * Double(difference)
        if let gradient { gradient[i] += factor * difference }
      }
      sums[p] = sum
    }
    return sums.reduce(0, +) / Double(count)
  }

  /// Cross-entropy of `rows` rows of logits `[rows, vocabulary]` against `targets` (one per
  /// row; a negative target marks a row that predicts nothing and is skipped). Returns the
  /// *sum* of the rows' negative log-likelihoods (in nats, Double) and how many rows counted.
  ///
  /// With `gradient` it **writes** `gradient[r] = scale · (softmax(logits[r]) − onehot)` (zero
  /// for skipped rows); `gradient` may be `logits` itself, to overwrite the logits in place.
  /// For the mean over predicted tokens, pass `scale = 1 / (tokens predicted in the batch)`.
  public static func crossEntropy(
    _ logits: UnsafePointer<Float>, targets: UnsafePointer<Int>, rows: Int, vocabulary: Int,
    gradient: UnsafeMutablePointer<Float>? = nil, scale: Float = 1
  ) -> (loss: Double, count: Int) {
    guard rows > 0 else { return (0, 0) }
    let parts = min(Parallel.cores, max(1, rows * vocabulary / (1 << 15)), rows)
    let step = (rows + parts - 1) / parts
    let sums = UnsafeMutableBufferPointer<(Double, Int)>.allocate(capacity: parts)
    defer { sums.deallocate() }
    DispatchQueue.concurrentPerform(iterations: parts) { p in
      var loss: Double = 0
      var count = 0
      for r in (p * step)..<min(rows, (p + 1) * step) {
        let row = logits + r * vocabulary  // [V]
        let target = targets[r]
        guard target >= 0 else {
          gradient?.advanced(by: r * vocabulary).update(repeating: 0, count: vocabulary)
          continue
        }
        precondition(target < vocabulary, "target \(target) outside a vocabulary of \(vocabulary)")
        let logSum = RowSoftmax.logSumExp(row, count: vocabulary)
        loss += Double(logSum - row[target])
        count += 1
        if let gradient {
          let dst = gradient + r * vocabulary  // [V]
          RowSoftmax.softmax(row, count: vocabulary, logSumExp: logSum, scale: scale, into: dst)
          dst[target] -= scale
        }
      }
      sums[p] = (loss, count)
    }
    return sums.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
  }

  /// Row-parallel work that also sums per-column values over the rows: each part adds into its
  /// own zeroed `[columns]` partial, and the partials are added into `destination` in a fixed
  /// order (deterministic for a given core count). With no destination, `partial` is nil.
  static func columnSums(
    rows: Int, columns: Int, into destination: UnsafeMutablePointer<Float>?,
    _ body: (Range<Int>, UnsafeMutablePointer<Float>?) -> Void
  ) {
    guard rows > 0 else { return }
    let parts = min(Parallel.cores, max(1, rows / max(1, 16384 / max(columns, 1))))
    let step = (rows + parts - 1) / parts
    let partials: UnsafeMutablePointer<Float>? =
      destination == nil ? nil : .allocate(capacity: parts * columns)  // [parts, C]
    defer { partials?.deallocate() }
    partials?.initialize(repeating: 0, count: parts * columns)
    DispatchQueue.concurrentPerform(iterations: parts) { p in
      let range = (p * step)..<min(rows, (p + 1) * step)
      if !range.isEmpty { body(range, partials.map { $0 + p * columns }) }
    }
    guard let destination, let partials else { return }
    for p in 0..<parts {
      for c in 0..<columns { destination[c] += partials[p * columns + c] }
    }
  }
}
