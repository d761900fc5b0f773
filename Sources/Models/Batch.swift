/// Token sequences laid end to end as the rows of one residual-stream buffer: every Linear layer
/// sees all of them as one matrix, and attention keeps each sequence to itself.
///
/// A sequence may continue another one, its *prefix* (a shared context scored once for several
/// continuations): its positions carry on from the prefix's end and it attends to the prefix's
/// rows before its own, exactly as if the two were one sequence. A prefix cannot itself continue
/// another sequence.
public struct Batch: Sendable {
  /// The rows of each sequence.
  public let segments: [Range<Int>]
  /// The position of each row within its (prefix-extended) sequence.
  public let positions: [Int]
  /// The index of the sequence each sequence continues, if any.
  public let prefixes: [Int?]

  public var rows: Int { positions.count }

  public init(lengths: [Int], prefixes: [Int?]? = nil) {
    let prefixes = prefixes ?? Array(repeating: nil, count: lengths.count)
    var segments: [Range<Int>] = []
    var positions: [Int] = []
    var start = 0
    for (s, length) in lengths.enumerated() {
      let offset = prefixes[s].map { lengths[$0] } ?? 0
      segments.append(start..<(start + length))
      positions += offset..<(offset + length)
      start += length
    }
    self.segments = segments
    self.positions = positions
    self.prefixes = prefixes
  }

  /// The longest position any row reaches, plus one.
  public var span: Int { (positions.max() ?? -1) + 1 }

  /// The sequences `range` as a batch of their own, rows renumbered from zero. Every prefix of
  /// a sequence in `range` must lie in `range` too.
  public func slice(_ range: Range<Int>) -> Batch {
    let lengths = segments[range].map(\.count)
    let local = prefixes[range].map { prefix in
      prefix.map { p -> Int in
        precondition(range.contains(p), "a prefix must travel with its continuations")
        return p - range.lowerBound
      }
    }
    return Batch(lengths: lengths, prefixes: local)
  }

  /// Consecutive runs of sequences holding at most `rowLimit` rows (a longer sequence goes
  /// alone), never separating a prefix from its continuations.
  public func chunks(rowLimit: Int) -> [Range<Int>] {
    var lastContinuation = Array(0..<segments.count)
    for (s, prefix) in prefixes.enumerated() {
      if let prefix { lastContinuation[prefix] = max(lastContinuation[prefix], s) }
    }
    var out: [Range<Int>] = []
    var first = 0
    var rows = 0
    var mustReach = 0
    for (s, segment) in segments.enumerated() {
      if s > first && s > mustReach && rows + segment.count > rowLimit {
        out.append(first..<s)
        first = s
        rows = 0
      }
      rows += segment.count
      mustReach = max(mustReach, lastContinuation[s])
    }
    if first < segments.count { out.append(first..<segments.count) }
    return out
  }
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
