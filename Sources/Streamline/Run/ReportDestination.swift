import Checkpoint
import Foundation

/// Where a report folder is written: inside the output being written when it lies within it
/// (committed with it), else its own `OutputFolder` in the run's `OutputSet`, committed with the
/// run's other outputs.
public struct ReportDestination {
  /// The folder to write the report's files into.
  public let folder: URL
  /// The report's own output folder, nil when it lies inside `within`.
  let own: OutputFolder?
  /// The output folder the report lies in, if it does.
  let within: OutputFolder?

  public init(
    _ path: String, role: OutputRole = .report, outputs: OutputSet, force: Bool,
    ownFiles: Set<String>, within output: OutputFolder? = nil
  ) throws {
    let inner = try role.naming { () throws -> URL? in
      guard let output else { return nil }
      return try output.folder(for: try OutputPolicy.url(path))
    }
    self.within = output
    if let inner {
      folder = inner
      own = nil
      return
    }
    let made = try outputs.folder(path, label: role.rawValue, force: force, ownFiles: ownFiles)
    folder = made.url
    own = made
  }

  /// Runs `body`, which writes the report's files; an error names the report and its path.
  public func writing(_ role: OutputRole = .report, _ body: () throws -> Void) throws {
    try role.naming {
      if let writing = own ?? within { try writing.naming(body) } else { try body() }
    }
  }
}
