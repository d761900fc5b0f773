import Foundation

/// Per-row softmax statistics over a vocabulary, vectorised: the distillation loss runs them on
/// every training token over tens of thousands of logits, twice, where a scalar `expf` per
/// element cost about as much as the head's own matrix product.
public enum RowSoftmax {
  typealias Vector = VectorMath.Vector

  /// Sums of up to this many Float lanes go into a Double, so the sum over a 262k vocabulary
  /// stays exact to Float32 round-off of each block, not of the whole row.
  static let block = 512

  /// log Σᵥ exp(row[v]), with the maximum subtracted first.
  @inline(__always)
  public static func logSumExp(_ row: UnsafePointer<Float>, count: Int) -> Float {
    let maximum = max(row, count: count)
    var total = 0.0
    var v = 0
    while v < count {
      let end = min(count, v + block)
      var lanes = Vector(repeating: 0)
      while v + 8 <= end {
        lanes += VectorMath.exp(load(row + v) - maximum)
        v += 8
      }
      var sum = lanes.sum()
      while v < end {
        sum += VectorMath.exp(Vector(repeating: row[v] - maximum))[0]
        v += 1
      }
      total += Double(sum)
    }
    return maximum + Float(Foundation.log(total))
  }

  /// KL(p ‖ q) = Σᵥ p(v)·(log p(v) − log q(v)) for the rows' logits, `teacher` giving p and
  /// `student` q; with `scale`, the student's row is **overwritten** with its gradient,
  /// scale·(q − p).
  @inline(__always)
  public static func klDivergence(
    teacher: UnsafePointer<Float>, student: UnsafeMutablePointer<Float>, count: Int,
    gradientScale scale: Float?
  ) -> Double {
    let teacherLog = logSumExp(teacher, count: count)
    let studentLog = logSumExp(student, count: count)
    var total = 0.0
    var v = 0
    while v < count {
      let end = min(count, v + block)
      var lanes = Vector(repeating: 0)
      while v + 8 <= end {
        let logP = load(teacher + v) - teacherLog
        let logQ = load(student + v) - studentLog
        let p = VectorMath.exp(logP)
        lanes += p * (logP - logQ)
        if let scale { store((VectorMath.exp(logQ) - p) * scale, to: student + v) }
        v += 8
      }
      var sum = lanes.sum()
      while v < end {
        let logP = teacher[v] - teacherLog
        let logQ = student[v] - studentLog
        let p = VectorMath.exp(Vector(repeating: logP))[0]
        sum += p * (logP - logQ)
        if let scale { student[v] = scale * (VectorMath.exp(Vector(repeating: logQ))[0] - p) }
        v += 1
      }
      total += Double(sum)
    }
    return total
  }

  /// Writes `scale · softmax(row)` into `out` (which may be `row`), given the row's
  /// `logSumExp`.
  @inline(__always)
  public static func softmax(
    _ row: UnsafePointer<Float>, count: Int, logSumExp: Float, scale: Float,
    into out: UnsafeMutablePointer<Float>
  ) {
    var v = 0
    while v + 8 <= count {
      store(VectorMath.exp(load(row + v) - logSumExp) * scale, to: out + v)
      v += 8
    }
    while v < count {
      out[v] = scale * VectorMath.exp(Vector(repeating: row[v] - logSumExp))[0]
      v += 1
    }
  }

  @inline(__always)
  static func max(_ row: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = Vector(repeating: -.infinity)
    var v = 0
    while v + 8 <= count {
      lanes = pointwiseMax(lanes, load(row + v))
      v += 8
    }
    var result = lanes.max()
    while v < count {
      result = Swift.max(result, row[v])
      v += 1
    }
    return result
  }

  @inline(__always)
  static func load(_ p: UnsafePointer<Float>) -> Vector {
    UnsafeRawPointer(p).loadUnaligned(as: Vector.self)
  }

  @inline(__always)
  static func store(_ value: Vector, to p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: value, as: Vector.self)
  }
}
