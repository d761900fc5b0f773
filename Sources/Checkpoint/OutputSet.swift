import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Every output of one run (a checkpoint folder, a report folder, a statistics file, a GGUF),
/// staged beside its target and committed together: all of them appear, or none does and every
/// earlier output stays as it was.
///
/// Each target is checked when it is added, before any work: by the run's `OutputPolicy`
/// (never blank, never onto or inside an input, never a symbolic link, a device, a FIFO or a
/// mount point, on a writable file system) and against the targets added before it (never the
/// same path, never one inside another). Its temporary folder or file is made at once, so an
/// unwritable place fails before the work too. `commit()` renames every output into place under
/// the clean-up registry's lock, keeping what each replaced until the last is in place; a
/// failure puts back what the earlier ones replaced.
public final class OutputSet: @unchecked Sendable {
  /// An output and how refusals name it (the command line's flag: "--gguf").
  enum Item {
    case folder(OutputFolder)
    case file(StagedFile)

    var target: URL {
      switch self {
      case .folder(let folder): return folder.target
      case .file(let file): return file.target
      }
    }

    func install() throws -> Installed {
      switch self {
      case .folder(let folder): return try folder.install()
      case .file(let file): return try file.install()
      }
    }

    func discard() {
      switch self {
      case .folder(let folder): folder.discard()
      case .file(let file): file.discard()
      }
    }
  }

  public private(set) var policy: OutputPolicy
  private var items: [(label: String, item: Item)] = []
  private let registry: CleanupRegistry

  public init(policy: OutputPolicy, registry: CleanupRegistry = .shared) {
    self.policy = policy
    self.registry = registry
  }

  /// Runs `body`; a `CheckpointError` it throws is named with `label`.
  func labelled<T>(_ label: String, _ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as CheckpointError {
      throw OutputSetError(label: label, error: error)
    }
  }

  /// An output folder at `path` (see `OutputFolder`), checked against the inputs and every
  /// output added so far.
  public func folder(_ path: String, label: String, force: Bool = false, ownFiles: Set<String> = [])
    throws -> OutputFolder
  {
    try labelled(label) {
      let url = try OutputPolicy.url(path)
      let folder = try OutputFolder(
        target: url, policy: policy, force: force, ownFiles: ownFiles, registry: registry)
      add(.folder(folder), label: label, isFolder: true)
      return folder
    }
  }

  /// An output file at `path`, checked as `folder` checks; an existing file is replaced only
  /// with `force`.
  public func file(_ path: String, label: String, force: Bool = true) throws -> StagedFile {
    try labelled(label) {
      let file = try StagedFile(path, policy: policy, force: force, registry: registry)
      add(.file(file), label: label, isFolder: false)
      return file
    }
  }

  /// Later outputs are checked against this one as against an input: never the same path, never
  /// inside it, never a folder holding it.
  private func add(_ item: Item, label: String, isFolder: Bool) {
    items.append((label, item))
    policy.inputs.append(.init(item.target, what: "the \(label) \(isFolder ? "folder" : "file")"))
  }

  /// Puts every output in place, or none: an error names the output that failed, and every
  /// output committed before it is taken back (the files and folders they replaced restored).
  public func commit() throws {
    try registry.withLock {
      var done: [Installed] = []
      for (label, item) in items {
        do {
          done.append(try item.install())
        } catch {
          for installed in done.reversed() { installed.rollback() }
          discard()
          if let error = error as? CheckpointError {
            throw OutputSetError(label: label, error: error)
          }
          throw error
        }
      }
      for installed in done { installed.finish() }
    }
  }

  /// Removes every output's temporary folder or file (nothing once committed).
  public func discard() {
    for (_, item) in items { item.discard() }
  }
}

/// A refused or failed output of an `OutputSet`, named with its label (the option it came from).
public struct OutputSetError: Error, CustomStringConvertible {
  public let label: String
  public let error: CheckpointError

  public var description: String { "\(label): \(error)" }
}
