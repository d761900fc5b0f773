import Foundation
import FuzzSupport
import Streamline

/// Scoring-statistics files (`analyze --save-stats`, read by `analyze --merge` and
/// `prune --stats`): the input is one file, or two cut at a NUL byte; whatever parses is merged
/// (alone, with itself, and the two together) and turned into means, as the commands do.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let files = parts(Data(bytes: start, count: count), 2)
  let parsed = files.enumerated().compactMap { i, data in
    (try? ScoringStats.parse(data, path: "s\(i).json")).map { (path: "s\(i).json", stats: $0) }
  }
  for one in parsed {
    if let merged = try? ScoringStats.merge([one]) { _ = merged.sums.matrix }
    if let twice = try? SimilaritySums.merged([one.stats.sums, one.stats.sums]) {
      _ = twice.matrix
    }
  }
  if parsed.count == 2, let merged = try? ScoringStats.merge(parsed) { _ = merged.sums.matrix }
  return 0
}

@_cdecl("fuzz_stats_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt
{
  runFuzzer(argc, argv, fuzz)
}
