/// Token sequences laid end to end as the rows of one residual-stream buffer: every Linear layer
/// sees all of them as one matrix, and attention keeps each sequence to itself.
public struct Batch: Sendable {
  /// The rows of each sequence.
  public let segments: [Range<Int>]
  /// The position of each row within its sequence.
  public let positions: [Int]

  public var rows: Int { positions.count }

  public init(lengths: [Int]) {
    var segments: [Range<Int>] = []
    var positions: [Int] = []
    var start = 0
    for length in lengths {
      segments.append(start..<(start + length))
      positions += 0..<length
      start += length
    }
    self.segments = segments
    self.positions = positions
  }

  public var longest: Int { segments.map(\.count).max() ?? 0 }
}

/// Precomputed rotary tables for positions `0..<count`, `[count, headDim / 2]` each.
public final class RopeTables: @unchecked Sendable {
  public let count: Int
  public let cos: UnsafeMutablePointer<Float>
  public let sin: UnsafeMutablePointer<Float>

  public init(rope: Rope, count: Int) {
    self.count = count
    let (cosines, sines) = rope.tables(count: count)
    cos = .allocate(capacity: max(1, cosines.count))
    sin = .allocate(capacity: max(1, sines.count))
    cos.initialize(from: cosines, count: cosines.count)
    sin.initialize(from: sines, count: sines.count)
  }

  deinit {
    cos.deallocate()
    sin.deallocate()
  }
}
