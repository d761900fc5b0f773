import Foundation
import Tensors

/// Rotary position embedding, with inverse frequencies computed in Float32 step by step as
/// `transformers` computes them, so positions far into a sequence rotate identically.
public struct Rope: Sendable, Hashable {
  public enum Scaling: Sendable, Hashable {
    case none
    /// Position interpolation: every frequency divided by `factor`.
    case linear(factor: Double)
    /// Llama 3.1's frequency-dependent scaling.
    case llama3(
      factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double,
      originalContext: Double)
    /// LongRoPE (Phi-3): each frequency divided by its own factor, `short` for sequences of
    /// at most `originalContext` tokens and `long` beyond (`useLong` says which this value
    /// rotates with; `variant(forLength:)` picks), cos and sin times `attentionFactor`.
    case longrope(
      short: [Double], long: [Double], originalContext: Int, attentionFactor: Double,
      useLong: Bool)
  }

  public static let supportedTypes = "default, linear, llama3"

  public let theta: Double
  /// Features rotated per head: the first `dimension` of each head (all of them unless the
  /// rotary is partial, `partial_rotary_factor` < 1).
  public let dimension: Int
  /// Floats from one head to the next in a row: the head dimension.
  public let headDim: Int
  public let scaling: Scaling
  /// `dimension / 2` inverse frequencies.
  public let inverseFrequencies: [Float]
  /// Multiplies the cos and sin tables (LongRoPE's attention factor; 1 otherwise).
  public let attentionFactor: Float

  public init(theta: Double, dimension: Int, headDim: Int? = nil, scaling: Scaling) {
    self.theta = theta
    self.dimension = dimension
    self.headDim = headDim ?? dimension
    self.scaling = scaling
    let base = Float(theta)
    var frequencies = (0..<(dimension / 2)).map { i -> Float in
      1 / powf(base, Float(2 * i) / Float(dimension))
    }
    var attentionFactor: Float = 1
    switch scaling {
    case .none:
      break
    case .longrope(let short, let long, _, let factor, let useLong):
      // transformers: 1 / (ext_factors · base^(2i/d)), in Float32.
      let factors = useLong ? long : short
      frequencies = (0..<(dimension / 2)).map { i -> Float in
        1 / (Float(factors[i]) * powf(base, Float(2 * i) / Float(dimension)))
      }
      attentionFactor = Float(factor)
    case .linear(let factor):
      frequencies = frequencies.map { $0 / Float(factor) }
    case .llama3(let factor, let low, let high, let context):
      let lowWavelength = Float(context / low)
      let highWavelength = Float(context / high)
      let factor = Float(factor)
      frequencies = frequencies.map { f in
        let wavelength = Float(2 * Double.pi) / f
        let scaled = wavelength > lowWavelength ? f / factor : f
        let smooth = (Float(context) / wavelength - Float(low)) / Float(high - low)
        let smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        let medium = !(wavelength < highWavelength) && !(wavelength > lowWavelength)
        return medium ? smoothed : scaled
      }
    }
    inverseFrequencies = frequencies
    self.attentionFactor = attentionFactor
  }

  /// The rope a sequence of `length` positions rotates with: LongRoPE's long factors past the
  /// original context, as transformers picks them for a forward (`max(position_ids) + 1 >
  /// original_max_position_embeddings`); itself for every other scaling.
  public func variant(forLength length: Int) -> Rope {
    guard case .longrope(let short, let long, let context, let factor, let useLong) = scaling,
      useLong != (length > context)
    else { return self }
    return Rope(
      theta: theta, dimension: dimension, headDim: headDim,
      scaling: .longrope(
        short: short, long: long, originalContext: context, attentionFactor: factor,
        useLong: !useLong))
  }

  /// Rotates the rows of `batch` in place (`x` is `[rows, rowStride]`, `heads` heads from the
  /// row start), with tables from `context`. A length-dependent rope (LongRoPE) picks its
  /// factors per sequence from the sequence's own length, as transformers does for a sequence
  /// run alone; a prefix and its continuations count as one sequence as long as the longest
  /// of them (transformers would run each continuation with its prefix), so they rotate alike.
  public func apply(
    _ x: UnsafeMutablePointer<Float>, rowStride: Int, heads: Int, batch: Batch,
    context: LayerContext, inverse: Bool = false
  ) {
    guard case .longrope = scaling else {
      let tables = context.tables(for: self)
      apply(
        x, rowStride: rowStride, heads: heads, positions: batch.positions, cos: tables.cos,
        sin: tables.sin, inverse: inverse)
      return
    }
    var spans = [Int](repeating: 0, count: batch.segments.count)
    for (s, segment) in batch.segments.enumerated() where !segment.isEmpty {
      let root = batch.prefixes[s] ?? s
      spans[root] = max(spans[root], batch.positions[segment.upperBound - 1] + 1)
    }
    for (s, segment) in batch.segments.enumerated() where !segment.isEmpty {
      let rope = variant(forLength: spans[batch.prefixes[s] ?? s])
      let tables = context.tables(for: rope)
      rope.apply(
        x + segment.lowerBound * rowStride, rowStride: rowStride, heads: heads,
        positions: Array(batch.positions[segment]), cos: tables.cos, sin: tables.sin,
        inverse: inverse)
    }
  }

  /// Cos and sin tables `[positions, dimension / 2]` for positions `0..<count`.
  public func tables(count: Int) -> (cos: [Float], sin: [Float]) {
    let half = dimension / 2
    var cosines = [Float](repeating: 0, count: count * half)
    var sines = [Float](repeating: 0, count: count * half)
    for p in 0..<count {
      for i in 0..<half {
        let angle = Float(p) * inverseFrequencies[i]
        cosines[p * half + i] = cosf(angle) * attentionFactor
        sines[p * half + i] = sinf(angle) * attentionFactor
      }
    }
    return (cosines, sines)
  }

  /// Rotates `heads` heads of each of `rows` rows in place; row r has position
  /// `positions[r]`, and its heads start every `headDim` floats from the row start (only the
  /// first `dimension` features of each head rotate; the rest pass through).
  public func apply(
    _ x: UnsafeMutablePointer<Float>, rowStride: Int, heads: Int, positions: [Int],
    cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, inverse: Bool = false
  ) {
    let half = dimension / 2
    let sign: Float = inverse ? -1 : 1
    positions.withUnsafeBufferPointer { positions in
      Parallel.chunks(positions.count, grain: 16) { range in
        for r in range {
          let c = cos + positions[r] * half
          let s = sin + positions[r] * half
          for h in 0..<heads {
            let head = x + r * rowStride + h * headDim
            for i in 0..<half {
              let x1 = head[i]
              let x2 = head[i + half]
              head[i] = x1 * c[i] - x2 * (sign * s[i])
              head[i + half] = x2 * c[i] + x1 * (sign * s[i])
            }
          }
        }
      }
    }
  }

  /// Backward of `apply`: the rotation (times LongRoPE's attention factor) has as transpose
  /// the same tables with the sine negated, the inverse rotation, so the gradient of its input
  /// is the gradient of its output rotated back, in place.
  public func backward(
    _ gradient: UnsafeMutablePointer<Float>, rowStride: Int, heads: Int, positions: [Int],
    cos: UnsafePointer<Float>, sin: UnsafePointer<Float>
  ) {
    apply(
      gradient, rowStride: rowStride, heads: heads, positions: positions, cos: cos, sin: sin,
      inverse: true)
  }
}
