import Checkpoint
import Foundation

/// A refused or failed output option, worded with its flag: the library names the path and the
/// reason, the command line the option it came from.
struct OptionError: Error, CustomStringConvertible {
  let flag: String
  let error: Error

  var description: String { "\(flag): \(error)" }
}

/// Runs `body` for the path given to `flag`, naming the flag in a checkpoint error.
func forOption<T>(_ flag: String, _ body: () throws -> T) throws -> T {
  do {
    return try body()
  } catch let error as CheckpointError {
    throw OptionError(flag: flag, error: error)
  }
}

/// Where a report folder is written: inside the output being written when it lies within it
/// (committed with it), else its own `OutputFolder` in the run's `OutputSet`, committed with the
/// run's other outputs.
struct ReportDestination {
  /// The folder to write the report's files into.
  let folder: URL
  /// The report's own output folder, nil when it lies inside `within`.
  let own: OutputFolder?
  /// The output folder the report lies in, if it does.
  let within: OutputFolder?

  init(
    _ path: String, flag: String, outputs: OutputSet, force: Bool, ownFiles: Set<String>,
    within output: OutputFolder? = nil
  ) throws {
    let inner = try forOption(flag) { () throws -> URL? in
      guard let output else { return nil }
      return try output.folder(for: try OutputPolicy.url(path))
    }
    self.within = output
    if let inner {
      folder = inner
      own = nil
      return
    }
    let made = try outputs.folder(path, label: flag, force: force, ownFiles: ownFiles)
    folder = made.url
    own = made
  }

  /// Runs `body`, which writes the report's files; an error names `flag` and the report's path.
  func writing(_ flag: String, _ body: () throws -> Void) throws {
    try forOption(flag) {
      if let writing = own ?? within { try writing.naming(body) } else { try body() }
    }
  }
}
