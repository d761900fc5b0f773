import Checkpoint

/// Which of a job's outputs a path is, so that a refused or failed path is named by what the
/// caller called it (the command line: its flag).
public enum OutputRole: String, Sendable, CaseIterable {
  case output, report, gguf, predictions, statistics
}

/// A refused or failed output path: the library names the path and the reason, the caller the
/// output it came from.
public struct OutputError: Error, CustomStringConvertible {
  public let role: OutputRole
  public let error: Error

  public var description: String { "the \(role.rawValue): \(error)" }
}

extension OutputRole {
  /// Runs `body` for the path of this output, naming the output in a checkpoint error.
  public func naming<T>(_ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as CheckpointError {
      throw OutputError(role: self, error: error)
    }
  }
}
