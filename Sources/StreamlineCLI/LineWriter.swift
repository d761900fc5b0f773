import ArgumentParser
import Checkpoint
import Evaluation
import Foundation
import Tokenizers

/// Buffered writes to standard output.
final class LineWriter {
  private var buffer = Data()

  func write(_ line: String) {
    buffer.append(contentsOf: Array(line.utf8))
    buffer.append(0x0A)
    if buffer.count > 1 << 16 { flush() }
  }

  func flush() {
    FileHandle.standardOutput.write(buffer)
    buffer.removeAll(keepingCapacity: true)
  }
}
