/// Sizes as users write them for a largest shard: "5GB", "500MB", "2GiB", "1000000" (bytes).
/// Units are decimal as in `transformers`' `max_shard_size` (GiB is read as GB, as it does).
public enum ByteSize {
  /// The largest size accepted, 1 PB: anything more is a typo, and stays far below `Int.max`.
  public static let maximum = 1_000_000_000_000_000

  public static func parse(_ text: String) throws -> Int {
    func fail() -> CheckpointError { .notASize(text) }
    let upper = text.uppercased().replacingOccurrences(of: "IB", with: "B")
    let units: [(String, Double)] = [
      ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("B", 1),
    ]
    var value: Double?
    for (suffix, scale) in units where upper.hasSuffix(suffix) {
      value = Double(upper.dropLast(suffix.count)).map { $0 * scale }
      break
    }
    if value == nil, let bytes = Int(upper) { value = Double(bytes) }
    // Checked as a Double first: Int(_:) traps on anything past Int.max, NaN or infinity.
    guard let value, value.isFinite, value >= 1, value <= Double(maximum) else { throw fail() }
    return Int(value)
  }
}
