import Dispatch
import Foundation

/// Splits index ranges over the machine's cores.
public enum Parallel {
  public static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)

  /// Calls `body` on disjoint chunks covering `0..<count`; chunks hold at least `grain` indices
  /// so tiny loops stay on one thread.
  @inline(__always)
  public static func chunks(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let parts = min(cores, max(1, count / max(grain, 1)))
    if parts == 1 {
      body(0..<count)
      return
    }
    let step = (count + parts - 1) / parts
    DispatchQueue.concurrentPerform(iterations: parts) { p in
      let start = p * step
      let end = min(count, start + step)
      if start < end { body(start..<end) }
    }
  }
}
