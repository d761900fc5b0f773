import Checkpoint
import Testing

@testable import Streamline

/// What the command line hands the library as text: a layer list, a shard size, and the
/// metric/replacement rule.
@Suite struct OptionParsingTests {
  @Test func layerSelections() throws {
    #expect(try LayerSelection.parse("10-13", layerCount: 16) == [10, 11, 12, 13])
    #expect(try LayerSelection.parse("3,5, 1-2,5", layerCount: 8) == [1, 2, 3, 5])
    #expect(try LayerSelection.parse("7", layerCount: 8) == [7])
    // Reverse order: the last N layers before the final one.
    #expect(try LayerSelection.parse("last:3", layerCount: 8) == [4, 5, 6])
    #expect(try LayerSelection.parse("last:6", layerCount: 8) == Array(1...6))
  }

  @Test(arguments: [
    ("", "expected layer numbers"), ("a-b", "expected layer numbers"),
    ("3-1", "runs backwards"), ("-1", "expected layer numbers"), ("1,,2", "expected layer"),
    ("0-99999999999999", "layers 0...7"), ("8", "layers 0...7"), ("0-7", "removes every layer"),
    ("1-2-3", "expected layer numbers"), ("last:0", "expected last:N"),
    ("last:", "expected last:N"),
    ("last:7", "7 layers before its final one"), ("last:x", "expected last:N"),
  ])
  func badLayerSelections(_ text: String, _ reason: String) {
    do {
      _ = try LayerSelection.parse(text, layerCount: 8)
      Issue.record("expected an error for \(text)")
    } catch {
      #expect("\(error)".hasPrefix("layers \(text): "))
      #expect("\(error)".contains(reason), "\(error)")
    }
  }

  @Test func shardSizes() throws {
    #expect(try ByteSize.parse("5GB") == 5_000_000_000)
    #expect(try ByteSize.parse("500mb") == 500_000_000)
    #expect(try ByteSize.parse("2GiB") == 2_000_000_000)
    #expect(try ByteSize.parse("1.5KB") == 1500)
    #expect(try ByteSize.parse("4096") == 4096)
  }

  @Test(arguments: [
    "", "GB", "0", "-5GB", "5XB", "1e300GB", "nanGB", "infB", "99999999999999999999",
  ])
  func badShardSizes(_ text: String) {
    #expect(throws: CheckpointError.self) { try ByteSize.parse(text) }
  }

  @Test func biNeedsPlainRemoval() throws {
    try Importance.checkMetric(.bi, replacement: .none)
    try Importance.checkMetric(.cosine, replacement: .layer)
    #expect(throws: CompressionError.scatteredMetric(.bi)) {
      try Importance.checkMetric(.bi, replacement: .ffn)
    }
  }
}
