import Foundation
import Testing

@testable import Streamline

/// Scoring-statistics files are untrusted: every field is checked, with the file and the field
/// named, and merging can neither index past a row nor overflow.
@Suite struct StrictStatsTests {
  static let configHash = String(repeating: "a", count: 64)
  static let calibrationHash = String(repeating: "0123456789abcdef", count: 4)

  /// A valid shard: `layers` layers, `samples` sequences of 4 tokens, sums at plausible values.
  static func stats(shard: Int = 0, of shards: Int = 1, samples: Int = 4, layers: Int = 3)
    -> ScoringStats
  {
    let range = ScoringStats.range(shard: shard, of: shards, samples: samples)
    var sums = SimilaritySums(numLayers: layers)
    sums.samples = range.count
    sums.tokens = range.count * 4
    for i in 0...layers {
      for j in (i + 1)..<(layers + 1) where j > i {
        sums.cosine[i][j] = Int64(sums.tokens) * 3_000_000_000
        sums.angular[i][j] = Int64(sums.tokens) * 500_000_000
      }
    }
    return ScoringStats(
      configSHA256: configHash, calibrationSHA256: calibrationHash, seed: 0, seqLen: 4,
      samples: samples, shard: shard, shards: shards, sums: sums)
  }

  /// `stats` as JSON, edited by `change` (on the JSON object).
  static func file(_ stats: ScoringStats = stats(), _ change: (inout [String: Any]) -> Void)
    throws -> Data
  {
    var object =
      try JSONSerialization.jsonObject(with: JSONEncoder().encode(stats)) as! [String: Any]
    change(&object)
    return try JSONSerialization.data(withJSONObject: object)
  }

  static func sums(_ object: inout [String: Any], _ change: (inout [String: Any]) -> Void) {
    var sums = object["sums"] as! [String: Any]
    change(&sums)
    object["sums"] = sums
  }

  func failure(_ data: Data) -> String? {
    Fixtures.message { _ = try ScoringStats.parse(data, path: "s.json") }
  }

  @Test func aValidFileRoundTrips() throws {
    let stats = Self.stats(shard: 1, of: 2)
    let url = Fixtures.temporary("stats.json")
    defer { try? FileManager.default.removeItem(at: url) }
    try stats.save(to: url)
    #expect(try ScoringStats.load(url.path) == stats)
  }

  /// Each hostile edit, and the field its refusal must name.
  static let hostile: [(String, (inout [String: Any]) -> Void)] = [
    ("sums.num_layers", { o in sums(&o) { $0["num_layers"] = 100_000_000 } }),
    ("sums.num_layers", { o in sums(&o) { $0["num_layers"] = -1 } }),
    ("sums.cosine", { o in sums(&o) { $0["num_layers"] = 4 } }),
    (
      "sums.cosine[2]",
      {
        o in
        sums(&o) { s in
          var c = s["cosine"] as! [[Any]]; c[2].removeLast(); s["cosine"] = c
        }
      }
    ),
    (
      "sums.angular",
      {
        o in
        sums(&o) { s in
          var a = s["angular"] as! [[Any]]; a.removeLast(); s["angular"] = a
        }
      }
    ),
    ("sums.tokens", { o in sums(&o) { $0["tokens"] = 0 } }),
    ("sums.tokens", { o in sums(&o) { $0["tokens"] = -16 } }),
    ("sums.samples", { o in sums(&o) { $0["samples"] = 0 } }),
    ("sums.samples", { o in sums(&o) { $0["samples"] = -4 } }),
    ("samples", { $0["samples"] = 0 }),
    ("samples", { $0["samples"] = -4 }),
    ("shards", { $0["shards"] = 0 }),
    ("shards", { $0["shards"] = -1 }),
    ("shards", { $0["shards"] = 5 }),
    ("shard", { $0["shard"] = 1 }),
    ("shard", { $0["shard"] = -1 }),
    ("seq_len", { $0["seq_len"] = 0 }),
    ("sequences", { $0["sequences"] = [0, 3] }),
    ("config_sha256", { $0["config_sha256"] = "m" }),
    ("calibration_sha256", { $0["calibration_sha256"] = String(repeating: "G", count: 64) }),
    (
      "sums.cosine[0][1]",
      {
        o in
        sums(&o) { s in
          var c = s["cosine"] as! [[Any]]; c[0][1] = Int64.max; s["cosine"] = c
        }
      }
    ),
    (
      "sums.cosine[1][0]",
      {
        o in
        sums(&o) { s in
          var c = s["cosine"] as! [[Any]]; c[1][0] = 1; s["cosine"] = c
        }
      }
    ),
    (
      "sums.angular[0][2]",
      {
        o in
        sums(&o) { s in
          var a = s["angular"] as! [[Any]]; a[0][2] = -1; s["angular"] = a
        }
      }
    ),
    ("sums.cosine", { o in sums(&o) { $0["cosine"] = nil } }),
    ("sums.tokens", { o in sums(&o) { $0["tokens"] = 1e300 } }),
    ("seed", { $0["seed"] = -1 }),
  ]

  @Test(arguments: 0..<hostile.count)
  func everyFieldIsChecked(_ index: Int) throws {
    let (field, change) = Self.hostile[index]
    let text = failure(try Self.file(Self.stats(), change))
    #expect(text?.hasPrefix("s.json: \(field)") == true, "\(field): \(text ?? "accepted")")
  }

  @Test func notAStatisticsFile() {
    #expect(failure(Data("[1]".utf8))?.contains("not a streamline scoring-statistics") == true)
    #expect(failure(Data()).map { $0.hasPrefix("s.json: ") } == true)
  }

  /// Sums that each fit but add past Int64 are refused, naming the file, instead of trapping.
  @Test func mergingChecksForOverflow() throws {
    var part = SimilaritySums(numLayers: 1)
    part.cosine[0][1] = Int64.max - 1
    part.tokens = 1
    part.samples = 1
    var caught: SimilaritySums.MergeOverflow?
    do {
      _ = try SimilaritySums.merged([part, part])
    } catch let error as SimilaritySums.MergeOverflow {
      caught = error
    }
    #expect(caught == SimilaritySums.MergeOverflow(part: 1, field: "sums.cosine[0][1]"))
    var short = part
    short.angular = [[0]]
    #expect(throws: StreamlineError.self) { _ = try SimilaritySums.merged([part, short]) }
  }

  @Test func shardsStillMergeExactly() throws {
    let parts = (0..<2).map { (path: "s\($0).json", stats: Self.stats(shard: $0, of: 2)) }
    for part in parts {
      let data = try JSONEncoder().encode(part.stats)
      #expect(try ScoringStats.parse(data, path: part.path) == part.stats)
    }
    let merged = try ScoringStats.merge(parts)
    #expect(merged.sums.tokens == 16)
    #expect(merged.sums.samples == 4)
  }
}
