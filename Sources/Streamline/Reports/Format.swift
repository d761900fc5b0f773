import Checkpoint
import Evaluation
import Foundation
import Models

/// Human-readable numbers.
public enum Format {
  public static func count(_ n: Int) -> String {
    let value = Double(n)
    if value >= 1e9 { return String(format: "%.2fB", value / 1e9) }
    if value >= 1e6 { return String(format: "%.2fM", value / 1e6) }
    if value >= 1e3 { return String(format: "%.1fK", value / 1e3) }
    return "\(n)"
  }

  public static func bytes(_ n: Int) -> String {
    let value = Double(n)
    if value >= 1_073_741_824 { return String(format: "%.2f GiB", value / 1_073_741_824) }
    if value >= 1_048_576 { return String(format: "%.1f MiB", value / 1_048_576) }
    if value >= 1024 { return String(format: "%.1f KiB", value / 1024) }
    return "\(n) B"
  }

  /// Pretty, key-sorted JSON of an encodable value; NaN and infinities are written as null.
  public static func json<T: Encodable>(_ value: T) throws -> String {
    String(
      decoding: try JSONOutput.encode(
        value, formatting: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]),
      as: UTF8.self)
  }
}
