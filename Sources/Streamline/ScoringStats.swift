import Checkpoint
import Crypto
import Foundation
import Models

/// One shard's scoring statistics (`analyze --shard I/N --save-stats FILE`): the fixed-point
/// similarity sums of its sequences and what they were computed from, so shards of the same
/// model, calibration set and seed merge into exactly the single-machine sums.
public struct ScoringStats: Codable, Sendable, Equatable {
  public static let formatName = "streamline-scoring-stats"
  public var format = formatName
  public var version = 1
  /// SHA-256 of the model's config.json.
  public let configSHA256: String
  /// `CalibrationDraw.sha256`: the calibration files, seq_len, seed and draw.
  public let calibrationSHA256: String
  public let seed: UInt64
  public let seqLen: Int
  /// Scored sequences of the whole set (all shards).
  public let samples: Int
  /// 0-based shard index and the shard count.
  public let shard: Int
  public let shards: Int
  /// The shard's sequences: `[first, end)` of the scored set, in source order.
  public let sequences: [Int]
  public let sums: SimilaritySums

  public init(
    configSHA256: String, calibrationSHA256: String, seed: UInt64, seqLen: Int, samples: Int,
    shard: Int, shards: Int, sums: SimilaritySums
  ) {
    self.configSHA256 = configSHA256
    self.calibrationSHA256 = calibrationSHA256
    self.seed = seed
    self.seqLen = seqLen
    self.samples = samples
    self.shard = shard
    self.shards = shards
    let range = Self.range(shard: shard, of: shards, samples: samples)
    sequences = [range.lowerBound, range.upperBound]
    self.sums = sums
  }

  enum CodingKeys: String, CodingKey {
    case format, version, seed, samples, shard, shards, sequences, sums
    case configSHA256 = "config_sha256"
    case calibrationSHA256 = "calibration_sha256"
    case seqLen = "seq_len"
  }

  /// Shard `shard` of `shards`: a contiguous run of the scored sequences (in source order),
  /// sizes differing by at most one.
  public static func range(shard: Int, of shards: Int, samples: Int) -> Range<Int> {
    (shard * samples / shards)..<((shard + 1) * samples / shards)
  }

  /// "I/N" (0-based I).
  public static func parseShard(_ text: String) throws -> (index: Int, count: Int) {
    let parts = text.split(separator: "/")
    guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n
    else {
      throw StreamlineError.badRequest(
        "--shard \(text): expected I/N with 0 ≤ I < N, e.g. 0/4 for the first of four")
    }
    return (i, n)
  }

  public static func configHash(_ data: Data) -> String {
    SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
  }

  public func save(to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    var data = try encoder.encode(self)
    data.append(0x0A)
    // Atomic, and a write error names the file in plain words.
    try AtomicFile.write(data, to: url)
  }

  public static func load(_ path: String) throws -> ScoringStats {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw StreamlineError.badRequest("\(path): cannot read the scoring statistics")
    }
    guard let stats = try? JSONDecoder().decode(ScoringStats.self, from: data),
      stats.format == formatName
    else {
      throw StreamlineError.badRequest(
        "\(path): not a streamline scoring-statistics file (from analyze --save-stats)")
    }
    guard stats.version == 1 else {
      throw StreamlineError.badRequest(
        "\(path): statistics format version \(stats.version) is not supported (1 is)")
    }
    return stats
  }

  /// The shards of `files` (path, statistics) merged: every shard 0..<N exactly once, all of
  /// the same model, calibration set, seed and size, else a clear error naming the file.
  /// Integer sums make the result exactly the single-machine one, in any order.
  public static func merge(
    _ files: [(path: String, stats: ScoringStats)], configSHA256: String? = nil
  ) throws -> (header: ScoringStats, sums: SimilaritySums) {
    guard let (firstPath, first) = files.first else {
      throw StreamlineError.badRequest("no statistics files to merge")
    }
    var seen: [Int: String] = [:]
    for (path, stats) in files {
      if let configSHA256, stats.configSHA256 != configSHA256 {
        throw StreamlineError.badRequest(
          "\(path): computed on a model whose config.json differs from this one")
      }
      func differs(_ what: String) -> StreamlineError {
        .badRequest("\(path): \(what) differs from \(firstPath)'s; shards must come from one run")
      }
      if stats.configSHA256 != first.configSHA256 { throw differs("the model (config.json)") }
      if stats.calibrationSHA256 != first.calibrationSHA256 {
        throw differs("the calibration data, seed or seq-len")
      }
      if stats.seed != first.seed { throw differs("the seed") }
      if stats.seqLen != first.seqLen { throw differs("the sequence length") }
      if stats.samples != first.samples { throw differs("the number of scored sequences") }
      if stats.shards != first.shards { throw differs("the shard count") }
      if let other = seen[stats.shard] {
        throw StreamlineError.badRequest(
          "\(path): shard \(stats.shard)/\(stats.shards) is also in \(other)")
      }
      seen[stats.shard] = path
    }
    let missing = (0..<first.shards).filter { seen[$0] == nil }
    guard missing.isEmpty else {
      throw StreamlineError.badRequest(
        "shards \(missing.map { "\($0)/\(first.shards)" }.joined(separator: ", ")) are missing")
    }
    let sums = try SimilaritySums.merged(
      files.sorted { $0.stats.shard < $1.stats.shard }.map(\.stats.sums))
    let header = ScoringStats(
      configSHA256: first.configSHA256, calibrationSHA256: first.calibrationSHA256,
      seed: first.seed, seqLen: first.seqLen, samples: first.samples, shard: 0, shards: 1,
      sums: sums)
    return (header, sums)
  }
}
