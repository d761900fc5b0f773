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
      throw StreamlineError.shardSpecification(text)
    }
    return (i, n)
  }

  public static func configHash(_ data: Data) -> String {
    SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
  }

  public func save(to url: URL) throws {
    // Atomic, and a write error names the file in plain words.
    try AtomicFile.write(try encoded(), to: url)
  }

  /// The file's bytes: key-sorted JSON and a newline.
  public func encoded() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    var data = try encoder.encode(self)
    data.append(0x0A)
    return data
  }

  /// Reads and checks a statistics file (see `parse`).
  public static func load(_ path: String) throws -> ScoringStats {
    try InputFile.requireRegular(path)
    guard let data = FileManager.default.contents(atPath: path) else {
      throw StreamlineError.badRequest("\(path): cannot read the scoring statistics")
    }
    return try parse(data, path: path)
  }

  /// A statistics file's bytes, every field checked: the file is untrusted (another machine,
  /// an edit, a truncated copy), and a short row or an out-of-range count would otherwise
  /// crash the merge or the analysis instead of being refused.
  public static func parse(_ data: Data, path: String) throws -> ScoringStats {
    func fail(_ field: String, _ reason: String) -> ScoringStatsError {
      ScoringStatsError(path: path, field: field, reason: reason)
    }
    let stats: ScoringStats
    do {
      stats = try JSONDecoder().decode(ScoringStats.self, from: data)
    } catch let DecodingError.keyNotFound(key, context) {
      throw fail(Self.field(context.codingPath + [key]), "is missing")
    } catch let DecodingError.typeMismatch(_, context) where !context.codingPath.isEmpty {
      throw fail(Self.field(context.codingPath), "has the wrong type")
    } catch let DecodingError.valueNotFound(_, context) {
      throw fail(Self.field(context.codingPath), "is null")
    } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
      throw fail(Self.field(context.codingPath), "is not a valid value")
    } catch {
      // Foundation reports a number that does not fit its field (1e300 for an Int, -1 for the
      // UInt64 seed) as invalid JSON with no field; find the field for the message.
      if let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
        let field = Self.misfitNumber(object, path: "")
      {
        throw fail(field, "is not an integer its field can hold")
      }
      throw StreamlineError.notScoringStatistics(path: path)
    }
    guard stats.format == formatName else {
      throw StreamlineError.notScoringStatistics(path: path)
    }
    guard stats.version == 1 else {
      throw StreamlineError.badRequest(
        "\(path): statistics format version \(stats.version) is not supported (1 is)")
    }
    try stats.check(fail)
    return stats
  }

  /// The first number of a statistics file's JSON that is not an integer its field can hold
  /// (every number of the format is one: UInt64 for `seed`, Int64 elsewhere).
  static func misfitNumber(_ value: Any, path: String) -> String? {
    if let object = value as? [String: Any] {
      for key in object.keys.sorted() {
        if let found = misfitNumber(object[key]!, path: path.isEmpty ? key : "\(path).\(key)") {
          return found
        }
      }
    } else if let list = value as? [Any] {
      for (i, item) in list.enumerated() {
        if let found = misfitNumber(item, path: "\(path)[\(i)]") { return found }
      }
    } else if let number = value as? NSNumber {
      switch String(cString: number.objCType) {
      case "q", "l", "i", "s": return path == "seed" && number.int64Value < 0 ? path : nil
      case "Q", "L", "I", "S": return path == "seed" ? nil : path
      default: return path
      }
    }
    return nil
  }

  /// "sums.cosine[2][3]" for a decoding path.
  static func field(_ path: [any CodingKey]) -> String {
    var out = ""
    for key in path {
      if let index = key.intValue {
        out += "[\(index)]"
      } else {
        out += (out.isEmpty ? "" : ".") + key.stringValue
      }
    }
    return out.isEmpty ? "the top level" : out
  }

  /// The invariants `analyze --save-stats` writes: hashes, counts that agree with each other
  /// and with the shard's share of the sequences, and square sums no token count can exceed.
  func check(_ fail: (String, String) -> ScoringStatsError) throws {
    func isHash(_ text: String) -> Bool {
      text.utf8.count == 64
        && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
    guard isHash(configSHA256) else { throw fail("config_sha256", "is not a SHA-256 hex digest") }
    guard isHash(calibrationSHA256) else {
      throw fail("calibration_sha256", "is not a SHA-256 hex digest")
    }
    // Every sequence holds at least one token and one set of sums holds fewer than
    // `tokenLimit`, which also keeps `range`'s products far from overflow.
    guard (1..<SimilaritySums.tokenLimit).contains(seqLen) else {
      throw fail("seq_len", "\(seqLen) is not a sequence length (1..<\(SimilaritySums.tokenLimit))")
    }
    guard (1..<SimilaritySums.tokenLimit).contains(samples) else {
      throw fail(
        "samples", "\(samples) is not a count of sequences (1..<\(SimilaritySums.tokenLimit))")
    }
    guard (1...samples).contains(shards) else {
      throw fail(
        "shards", "\(shards) is not a shard count for \(samples) sequences (1...\(samples))")
    }
    guard (0..<shards).contains(shard) else {
      throw fail("shard", "\(shard) is not a shard of \(shards) (0..<\(shards))")
    }
    let range = Self.range(shard: shard, of: shards, samples: samples)
    guard sequences == [range.lowerBound, range.upperBound] else {
      throw fail(
        "sequences",
        "is not shard \(shard)/\(shards)'s range of \(samples) sequences, [\(range.lowerBound), \(range.upperBound)]"
      )
    }
    try sums.check(samples: range.count, seqLen: seqLen, fail: fail)
  }
}

extension SimilaritySums {
  /// The most layers a statistics file may describe: it bounds the square it allocates.
  public static let layerLimit = 4096

  /// A shard's sums: `samples` sequences of `seqLen` tokens, an upper triangle of sums whose
  /// every token adds at most one `scale` (|cos| ≤ 1, angle/π in [0, 1]), zero elsewhere.
  func check(samples expected: Int, seqLen: Int, fail: (String, String) -> ScoringStatsError)
    throws
  {
    guard (1...Self.layerLimit).contains(numLayers) else {
      throw fail("sums.num_layers", "\(numLayers) is not a layer count (1...\(Self.layerLimit))")
    }
    guard samples == expected else {
      throw fail("sums.samples", "\(samples) differs from the shard's \(expected) sequences")
    }
    let (product, overflow) = samples.multipliedReportingOverflow(by: seqLen)
    guard !overflow, product < Self.tokenLimit, tokens == product else {
      throw fail(
        "sums.tokens",
        "\(tokens) is not the shard's \(samples) sequences × \(seqLen) tokens (fewer than \(Self.tokenLimit) in all)"
      )
    }
    let limit = Int64(Self.scale) * Int64(tokens)
    for (name, rows, lowest) in [("cosine", cosine, -limit), ("angular", angular, 0)] {
      guard rows.count == numLayers + 1 else {
        throw fail("sums.\(name)", "has \(rows.count) rows, not num_layers + 1 = \(numLayers + 1)")
      }
      for (i, row) in rows.enumerated() {
        guard row.count == numLayers + 1 else {
          throw fail(
            "sums.\(name)[\(i)]", "has \(row.count) entries, not num_layers + 1 = \(numLayers + 1)")
        }
        for (j, value) in row.enumerated() {
          let allowed = j > i ? lowest...limit : 0...0
          guard allowed.contains(value) else {
            throw fail(
              "sums.\(name)[\(i)][\(j)]",
              "\(value) is outside \(allowed.lowerBound)...\(allowed.upperBound) for \(tokens) tokens"
            )
          }
        }
      }
    }
  }
}

extension ScoringStats {
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
    let ordered = files.sorted { $0.stats.shard < $1.stats.shard }
    let sums: SimilaritySums
    do {
      sums = try SimilaritySums.merged(ordered.map(\.stats.sums))
    } catch let overflow as SimilaritySums.MergeOverflow {
      throw StreamlineError.badRequest(
        "\(ordered[overflow.part].path): \(overflow.field) overflows when added to the other shards'"
      )
    }
    let header = ScoringStats(
      configSHA256: first.configSHA256, calibrationSHA256: first.calibrationSHA256,
      seed: first.seed, seqLen: first.seqLen, samples: first.samples, shard: 0, shards: 1,
      sums: sums)
    return (header, sums)
  }
}
