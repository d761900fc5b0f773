import Foundation

/// Threaded element-wise and row-wise kernels over raw buffers. Shapes are explicit; callers
/// guarantee the buffers are large enough.
public enum Kernels {
  /// `out[r] = x[r] / sqrt(mean(x[r]²) + eps) · (weightOffset + weight)`, as Llama's RMSNorm
  /// computes it in Float32: normalise first, then scale. Gemma's norm stores `w` and scales by
  /// `1 + w` (`weightOffset` 1), the sum taken in Float32 as transformers takes it; 0 + w is w,
  /// so the Llama norm is unchanged.
  public static func rmsNorm(
    _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float,
    out: UnsafeMutablePointer<Float>, rows: Int, columns: Int, weightOffset: Float = 0
  ) {
    Parallel.chunks(rows, grain: max(1, 16384 / max(columns, 1))) { range in
      for r in range {
        let row = x + r * columns
        let dst = out + r * columns
        let scale = inverseRMS(row, columns: columns, eps: eps)
        for c in 0..<columns { dst[c] = (weightOffset + weight[c]) * (row[c] * scale) }
      }
    }
  }

  /// `1 / sqrt(mean(row²) + eps)`, RMSNorm's scale of one row (shared with its backward).
  @inline(__always)
  static func inverseRMS(_ row: UnsafePointer<Float>, columns: Int, eps: Float) -> Float {
    var sums = VectorMath.Vector()
    var c = 0
    while c + 8 <= columns {
      let v = UnsafeRawPointer(row + c).loadUnaligned(as: VectorMath.Vector.self)
      sums += v * v
      c += 8
    }
    var sum = sums.sum()
    while c < columns {
      sum += row[c] * row[c]
      c += 1
    }
    return 1 / (sum / Float(columns) + eps).squareRoot()
  }

  /// `out[r] = (x[r] − mean) / sqrt(var + eps) · weight + bias` (biased variance), as
  /// `torch.nn.LayerNorm` computes it: `(x·s − mean·s)·weight + bias` with `s` the inverse
  /// standard deviation. `weight` and `bias` may be nil (`elementwise_affine=False`).
  public static func layerNorm(
    _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
    eps: Float, out: UnsafeMutablePointer<Float>, rows: Int, columns: Int
  ) {
    Parallel.chunks(rows, grain: max(1, 16384 / max(columns, 1))) { range in
      for r in range {
        let row = x + r * columns
        let dst = out + r * columns
        let (mean, scale) = layerNormMoments(row, columns: columns, eps: eps)
        let shift = -mean * scale
        switch (weight, bias) {
        case (let weight?, let bias?):
          for c in 0..<columns { dst[c] = (row[c] * scale + shift) * weight[c] + bias[c] }
        case (let weight?, nil):
          for c in 0..<columns { dst[c] = (row[c] * scale + shift) * weight[c] }
        case (nil, let bias?):
          for c in 0..<columns { dst[c] = row[c] * scale + shift + bias[c] }
        case (nil, nil):
          for c in 0..<columns { dst[c] = row[c] * scale + shift }
        }
      }
    }
  }

  /// The mean and inverse standard deviation `1 / sqrt(var + eps)` of one row (two passes, in
  /// Float32 vectors as PyTorch's CPU kernel sums; shared with the backward).
  @inline(__always)
  static func layerNormMoments(_ row: UnsafePointer<Float>, columns: Int, eps: Float)
    -> (mean: Float, scale: Float)
  {
    var sums = VectorMath.Vector()
    var c = 0
    while c + 8 <= columns {
      sums += UnsafeRawPointer(row + c).loadUnaligned(as: VectorMath.Vector.self)
      c += 8
    }
    var sum = sums.sum()
    while c < columns {
      sum += row[c]
      c += 1
    }
    let mean = sum / Float(columns)
    var squares = VectorMath.Vector()
    c = 0
    while c + 8 <= columns {
      let d = UnsafeRawPointer(row + c).loadUnaligned(as: VectorMath.Vector.self) - mean
      squares += d * d
      c += 8
    }
    var square = squares.sum()
    while c < columns {
      square += (row[c] - mean) * (row[c] - mean)
      c += 1
    }
    let variance = square / Float(columns)
    return (mean, 1 / (max(variance, 0) + eps).squareRoot())
  }

  /// `x = max(x, 0)` in place over `count` values.
  public static func relu(_ x: UnsafeMutablePointer<Float>, count: Int) {
    Parallel.chunks(count, grain: 16384) { range in
      for i in range where !(x[i] > 0) { x[i] = 0 }
    }
  }

  /// `out[r, c] = silu(gate[r, c]) · up[r, c]` where gate and up are the two halves of each row
  /// of a fused `[rows, 2 · width]` buffer.
  public static func siluGate(
    _ fused: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, rows: Int, width: Int
  ) {
    gate(SiLU.self, fused, out: out, rows: rows, width: width)
  }

  /// `out[r, c] = gelu_tanh(gate[r, c]) · up[r, c]` (transformers' `gelu_pytorch_tanh`, the
  /// Gemma gate), gate and up being the two halves of each row of `fused` (`[rows, 2·width]`).
  public static func geluTanhGate(
    _ fused: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, rows: Int, width: Int
  ) {
    gate(GELUTanh.self, fused, out: out, rows: rows, width: width)
  }

  /// `out[r, c] = act(gate[r, c]) · up[r, c]`, gate and up the two halves of each row of
  /// `fused` (`[rows, 2·width]`): the one loop of every gated MLP, specialised per activation.
  @inline(__always)
  static func gate<Activation: GateActivation>(
    _: Activation.Type, _ fused: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
    rows: Int, width: Int
  ) {
    Parallel.chunks(rows, grain: max(1, 16384 / max(width, 1))) { range in
      for r in range {
        let gate = fused + r * 2 * width
        let up = gate + width
        let dst = out + r * width
        var c = 0
        while c + 8 <= width {
          let g = UnsafeRawPointer(gate + c).loadUnaligned(as: VectorMath.Vector.self)
          let u = UnsafeRawPointer(up + c).loadUnaligned(as: VectorMath.Vector.self)
          UnsafeMutableRawPointer(dst + c).storeBytes(
            of: Activation.value(g) * u, as: VectorMath.Vector.self)
          c += 8
        }
        while c < width {
          dst[c] = Activation.value(gate[c]) * up[c]
          c += 1
        }
      }
    }
  }

  /// `√(2/π)`, gelu_tanh's inner factor, and its cubic coefficient.
  static let geluFactor: Float = 0.797_884_56
  static let geluCubic: Float = 0.044_715

  /// `0.5·g·(1 + tanh(y))` computed as `g·σ(2y)`, the same function without the cancellation
  /// of `1 + tanh(y)` for very negative g.
  @inline(__always)
  static func geluTanh(_ g: Float) -> Float {
    let y = geluFactor * (g + geluCubic * g * g * g)
    return g / (1 + expf(-2 * y))
  }

  /// Soft-capping in place, `x ← cap · tanh(scale · x / cap)` (Gemma 2's attention scores and
  /// final logits), on the first `min(columns, firstPosition + r + 1)` columns of row r (the
  /// causally kept ones; pass `firstPosition: columns` for every column), one thread.
  /// With `tanh`, the tanh values (`[rows, columns]`) are also written there for the backward.
  public static func softcap(
    _ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, firstPosition: Int,
    scale: Float, cap: Float, tanh: UnsafeMutablePointer<Float>? = nil
  ) {
    for r in 0..<rows {
      let row = x + r * columns
      let keep = min(columns, firstPosition + r + 1)
      var j = 0
      while j + 8 <= keep {
        let v = UnsafeRawPointer(row + j).loadUnaligned(as: VectorMath.Vector.self)
        let t = VectorMath.tanh(v * scale / cap)
        if let tanh {
          UnsafeMutableRawPointer(tanh + r * columns + j).storeBytes(
            of: t, as: VectorMath.Vector.self)
        }
        UnsafeMutableRawPointer(row + j).storeBytes(of: t * cap, as: VectorMath.Vector.self)
        j += 8
      }
      while j < keep {
        let t = tanhf(row[j] * scale / cap)
        tanh?[r * columns + j] = t
        row[j] = t * cap
        j += 1
      }
    }
  }

  /// `x[r, c] += bias[c]`.
  public static func addBias(
    _ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, columns: Int
  ) {
    Parallel.chunks(rows, grain: max(1, 16384 / max(columns, 1))) { range in
      for r in range {
        let row = x + r * columns
        for c in 0..<columns { row[c] += bias[c] }
      }
    }
  }

  /// `x += y` over `count` values.
  public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
    Parallel.chunks(count, grain: 1 << 15) { range in
      for i in range { x[i] += y[i] }
    }
  }

  /// Causal softmax of `scale · scores` in place, on one thread: row r holds the scores of the
  /// query at position `firstPosition + r` and keeps columns up to that position; the rest
  /// become zero.
  public static func causalSoftmax(
    _ scores: UnsafeMutablePointer<Float>, rows: Int, columns: Int, firstPosition: Int,
    scale: Float
  ) {
    for r in 0..<rows {
      let row = scores + r * columns
      let keep = min(columns, firstPosition + r + 1)
      var maxima = VectorMath.Vector(repeating: -.infinity)
      var j = 0
      while j + 8 <= keep {
        let v = UnsafeRawPointer(row + j).loadUnaligned(as: VectorMath.Vector.self) * scale
        UnsafeMutableRawPointer(row + j).storeBytes(of: v, as: VectorMath.Vector.self)
        maxima.replace(with: v, where: v .> maxima)
        j += 8
      }
      var maximum = maxima.max()
      while j < keep {
        row[j] *= scale
        maximum = max(maximum, row[j])
        j += 1
      }
      var sums = VectorMath.Vector()
      j = 0
      while j + 8 <= keep {
        let e = VectorMath.exp(
          UnsafeRawPointer(row + j).loadUnaligned(as: VectorMath.Vector.self) - maximum)
        UnsafeMutableRawPointer(row + j).storeBytes(of: e, as: VectorMath.Vector.self)
        sums += e
        j += 8
      }
      var sum = sums.sum()
      while j < keep {
        let e = expf(row[j] - maximum)
        row[j] = e
        sum += e
        j += 1
      }
      let inverse = 1 / sum
      for j in 0..<keep { row[j] *= inverse }
      for j in keep..<columns { row[j] = 0 }
    }
  }

  /// Float32 → bf16 (round to nearest even) for feeding bf16 matrix products.
  public static func toBF16(
    _ x: UnsafePointer<Float>, out: UnsafeMutablePointer<UInt16>, count: Int
  ) {
    Parallel.chunks(count, grain: 1 << 15) { range in
      var i = range.lowerBound
      // Round to nearest even in integer lanes; NaN lanes take the scalar path's quiet NaN.
      while i + 8 <= range.upperBound {
        let bits = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<UInt32>.self)
        let value = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        var rounded = (bits &+ ((bits &>> 16) & 1) &+ 0x7FFF) &>> 16
        rounded.replace(with: (bits &>> 16) | 0x40, where: value .!= value)
        UnsafeMutableRawPointer(out + i).storeBytes(
          of: SIMD8<UInt16>(truncatingIfNeeded: rounded), as: SIMD8<UInt16>.self)
        i += 8
      }
      while i < range.upperBound {
        out[i] = Numerics.bf16(from: x[i])
        i += 1
      }
    }
  }
}
