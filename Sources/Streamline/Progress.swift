import Foundation

/// Progress of long work on stderr (what, how far, rate, time left), only when stderr is a
/// terminal, so logs and pipes stay clean.
public final class Progress: @unchecked Sendable {
  let label: String
  let unit: String
  let start = Date()
  let enabled: Bool
  var lastDraw = Date.distantPast

  public init(_ label: String, unit: String = "", enabled: Bool = isatty(2) != 0) {
    self.label = label
    self.unit = unit
    self.enabled = enabled
  }

  /// `done` of `total` finished; `amount` (e.g. tokens) drives the rate when given; `detail`
  /// (e.g. the current loss) is shown after the count.
  public func update(_ done: Int, of total: Int, amount: Double? = nil, detail: String? = nil) {
    guard enabled else { return }
    let now = Date()
    guard done == total || now.timeIntervalSince(lastDraw) > 0.2 else { return }
    lastDraw = now
    let elapsed = now.timeIntervalSince(start)
    var line = "\(label) \(done)/\(total)"
    if let detail { line += " · " + detail }
    if let amount, elapsed > 0 {
      line += String(format: " · %.1f %@/s", amount / elapsed, unit)
    }
    if done > 0 && done < total {
      line += " · \(Self.clock(elapsed / Double(done) * Double(total - done))) left"
    } else if done == total {
      line += " · \(Self.clock(elapsed))"
    }
    FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line + (done == total ? "\n" : "")).utf8))
  }

  static func clock(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600
      ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
      : String(format: "%d:%02d", s / 60, s % 60)
  }
}
