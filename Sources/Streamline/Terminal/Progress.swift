import Foundation

/// Progress of long work on stderr (what, how far, rate, time left). On a terminal one line is
/// redrawn in place; anywhere else (a log file, a pipe, CI) a stage writes plain lines, the
/// first after `logInterval` seconds and then one each `logInterval`, plus its last, so a
/// short stage writes nothing and a long run's log still shows where it is.
public final class Progress: @unchecked Sendable {
  public enum Style: Sendable {
    case terminal
    case log
    case off
  }

  /// Seconds between the lines written to a log.
  static let logInterval = 30.0

  let label: String
  let unit: String
  let start = Date()
  let style: Style
  let write: (String) -> Void
  var lastDraw = Date.distantPast

  public convenience init(
    _ label: String, unit: String = "", style: Style = isatty(2) != 0 ? .terminal : .log
  ) {
    self.init(label, unit: unit, style: style) {
      FileHandle.standardError.write(Data($0.utf8))
    }
  }

  init(_ label: String, unit: String, style: Style, write: @escaping (String) -> Void) {
    self.label = label
    self.unit = unit
    self.style = style
    self.write = write
  }

  /// `done` of `total` finished; `amount` (e.g. tokens) drives the rate when given; `detail`
  /// (e.g. the current loss) is shown after the count.
  public func update(_ done: Int, of total: Int, amount: Double? = nil, detail: String? = nil) {
    update(done, of: total, amount: amount, detail: detail, at: Date())
  }

  func update(_ done: Int, of total: Int, amount: Double?, detail: String?, at now: Date) {
    let finished = done == total
    switch style {
    case .off:
      return
    case .terminal:
      guard finished || now.timeIntervalSince(lastDraw) > 0.2 else { return }
    case .log:
      // The first line is due `logInterval` after the start, each next one after the last.
      let logged = lastDraw > start
      guard
        now.timeIntervalSince(logged ? lastDraw : start) >= Self.logInterval
          || (finished && logged)
      else { return }
    }
    lastDraw = now
    let line = statusLine(
      done, of: total, amount: amount, detail: detail, elapsed: now.timeIntervalSince(start))
    write(style == .terminal ? "\r\u{1B}[2K" + line + (finished ? "\n" : "") : line + "\n")
  }

  func statusLine(_ done: Int, of total: Int, amount: Double?, detail: String?, elapsed: Double)
    -> String
  {
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
    return line
  }

  static func clock(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600
      ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
      : String(format: "%d:%02d", s / 60, s % 60)
  }
}
