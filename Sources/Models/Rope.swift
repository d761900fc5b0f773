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
  }

  public static let supportedTypes = "default, linear, llama3"

  public let theta: Double
  public let dimension: Int
  public let scaling: Scaling
  /// `dimension / 2` inverse frequencies.
  public let inverseFrequencies: [Float]

  public init(theta: Double, dimension: Int, scaling: Scaling) {
    self.theta = theta
    self.dimension = dimension
    self.scaling = scaling
    let base = Float(theta)
    var frequencies = (0..<(dimension / 2)).map { i -> Float in
      1 / powf(base, Float(2 * i) / Float(dimension))
    }
    switch scaling {
    case .none:
      break
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
  }

  /// Cos and sin tables `[positions, dimension / 2]` for positions `0..<count`.
  public func tables(count: Int) -> (cos: [Float], sin: [Float]) {
    let half = dimension / 2
    var cosines = [Float](repeating: 0, count: count * half)
    var sines = [Float](repeating: 0, count: count * half)
    for p in 0..<count {
      for i in 0..<half {
        let angle = Float(p) * inverseFrequencies[i]
        cosines[p * half + i] = cosf(angle)
        sines[p * half + i] = sinf(angle)
      }
    }
    return (cosines, sines)
  }

  /// Rotates `heads` heads of each of `rows` rows in place; row r has position
  /// `positions[r]`, and its heads start every `headStride` floats from the row start.
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
            let head = x + r * rowStride + h * dimension
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

  /// Backward of `apply`: the rotation is orthogonal, so the gradient of its input is the
  /// gradient of its output rotated back (the inverse rotation), in place.
  public func backward(
    _ gradient: UnsafeMutablePointer<Float>, rowStride: Int, heads: Int, positions: [Int],
    cos: UnsafePointer<Float>, sin: UnsafePointer<Float>
  ) {
    apply(
      gradient, rowStride: rowStride, heads: heads, positions: positions, cos: cos, sin: sin,
      inverse: true)
  }
}
