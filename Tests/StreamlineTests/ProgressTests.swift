import Foundation
import Testing

@testable import Streamline

/// Progress in a log: a short stage writes nothing; a long one a line each interval and its last.
struct ProgressTests {
  final class Lines: @unchecked Sendable {
    var text: [String] = []
  }

  @Test func shortStageWritesNothingToALog() {
    let lines = Lines()
    let progress = Progress("scoring", unit: "", style: .log) { lines.text.append($0) }
    let start = progress.start
    for step in 1...10 {
      progress.update(
        step, of: 10, amount: nil, detail: nil, at: start + Double(step))
    }
    #expect(lines.text.isEmpty)
  }

  @Test func longStageWritesPlainLinesEachIntervalAndItsLast() {
    let lines = Lines()
    let progress = Progress("training", unit: "tok", style: .log) { lines.text.append($0) }
    let start = progress.start
    for step in 1...100 {
      progress.update(step, of: 100, amount: nil, detail: nil, at: start + Double(step))
    }
    // Due at 30 s, 60 s and 90 s, and the last at 100 s.
    #expect(lines.text.count == 4)
    #expect(lines.text.first == "training 30/100 · 1:10 left\n")
    #expect(lines.text.last == "training 100/100 · 1:40\n")
    #expect(lines.text.allSatisfy { !$0.contains("\u{1B}") && !$0.contains("\r") })
  }

  @Test func offWritesNothing() {
    let lines = Lines()
    let progress = Progress("x", unit: "", style: .off) { lines.text.append($0) }
    progress.update(1, of: 1, amount: nil, detail: nil, at: progress.start + 100)
    #expect(lines.text.isEmpty)
  }
}
