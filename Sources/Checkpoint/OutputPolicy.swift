import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The one rule every path a command writes goes through, checked before any work starts:
/// never blank (an empty path would mean the current folder), never the root or the current
/// folder, never inside or onto an input (model folders, data files; compared after resolving
/// symbolic links), and for a folder never one holding an input, which replacing it would
/// delete. Refusals are `CheckpointError.outputRefused` naming the path; the command line adds
/// the option's name.
public struct OutputPolicy: Sendable {
  /// Something a command reads, and how a refusal names it ("the input model folder").
  public struct Input: Sendable {
    public let url: URL
    public let what: String

    public init(_ url: URL, what: String) {
      self.url = url
      self.what = what
    }
  }

  public var inputs: [Input]

  public init(inputs: [Input] = []) { self.inputs = inputs }

  /// Adds an input given as the user wrote it (ignored when blank).
  public mutating func add(_ path: String?, as what: String) {
    guard let path, !Self.isBlank(path) else { return }
    inputs.append(Input(URL(fileURLWithPath: path), what: what))
  }

  static func isBlank(_ path: String) -> Bool {
    path.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
  }

  /// The URL of a path the user gave, refused when blank.
  public static func url(_ path: String) throws -> URL {
    guard !isBlank(path) else {
      throw CheckpointError.outputRefused(
        path: path.debugDescription,
        reason: "no path given (an empty path would mean the current folder)")
    }
    return URL(fileURLWithPath: path).standardizedFileURL
  }

  /// An output folder at `path`, checked and its temporary folder made (see `OutputFolder`).
  public func folder(_ path: String, force: Bool = false, ownFiles: Set<String> = []) throws
    -> OutputFolder
  {
    try OutputFolder(target: try Self.url(path), policy: self, force: force, ownFiles: ownFiles)
  }

  /// An output file at `path`, checked; write it with `AtomicFile.write`.
  public func file(_ path: String) throws -> URL {
    let url = try Self.url(path)
    try check(url, isFolder: false)
    return url
  }

  /// Refuses `target` as an output file or folder.
  public func check(_ target: URL, isFolder: Bool) throws {
    let target = target.standardizedFileURL
    let path = target.path
    guard target.pathComponents.count > 1 else {
      throw CheckpointError.outputRefused(path: path, reason: "it is the root folder")
    }
    let resolvedTarget = Self.resolve(target)
    for input in inputs {
      let resolvedInput = Self.resolve(input.url)
      let inputPath = input.url.standardizedFileURL.path
      if resolvedTarget == resolvedInput {
        throw CheckpointError.outputRefused(
          path: path,
          reason:
            "it is \(input.what) \(inputPath); choose another output \(isFolder ? "folder" : "file")"
        )
      }
      if resolvedTarget.starts(with: resolvedInput) {
        throw CheckpointError.outputRefused(
          path: path, reason: "it is inside \(input.what) \(inputPath); choose a path outside it")
      }
      if isFolder && resolvedInput.starts(with: resolvedTarget) {
        throw CheckpointError.outputRefused(
          path: path,
          reason: "it contains \(input.what) \(inputPath), which replacing it would delete")
      }
    }
    var isDirectory: ObjCBool = false
    let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
    if isFolder {
      let current = Self.resolve(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
      if current.starts(with: resolvedTarget) {
        throw CheckpointError.outputRefused(
          path: path,
          reason: current == resolvedTarget
            ? "it is the current folder, which replacing it would delete"
            : "it contains the current folder, which replacing it would delete")
      }
      if exists && !isDirectory.boolValue {
        throw CheckpointError.outputRefused(path: path, reason: "it exists and is not a folder")
      }
    } else if exists && isDirectory.boolValue {
      throw CheckpointError.outputRefused(path: path, reason: "it is a folder; give a file name")
    }
    // The deepest existing ancestor must be a folder, or no parent can be made.
    var ancestor = target.deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: ancestor.path, isDirectory: &isDirectory) {
      ancestor = ancestor.deletingLastPathComponent()
    }
    guard isDirectory.boolValue else {
      throw CheckpointError.outputRefused(
        path: path, reason: "\(ancestor.path) is a file, not a folder")
    }
  }

  /// Absolute path components with symbolic links resolved, for the deepest part of the path that
  /// exists (the rest is appended as written).
  static func resolve(_ url: URL) -> [String] {
    let components = url.standardizedFileURL.pathComponents
    var count = components.count
    while count > 0 {
      let prefix = NSString.path(withComponents: Array(components[0..<count]))
      if let real = realpath(prefix, nil) {
        defer { free(real) }
        let resolved = URL(fileURLWithPath: String(cString: real)).standardizedFileURL
          .pathComponents
        return resolved + components[count...]
      }
      count -= 1
    }
    return components
  }
}

/// The temporary sibling of an output (a hidden `.NAME.partial-PID-RANDOM` beside it, on the same
/// file system so that the final rename is atomic), the parent folders an output makes, and the
/// removal of partials that dead runs left behind.
enum TemporarySibling {
  static func name(for target: URL, kind: String = "partial") -> String {
    ".\(target.lastPathComponent).\(kind)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
  }

  static func url(for target: URL) -> URL {
    target.deletingLastPathComponent().appendingPathComponent(name(for: target))
  }

  /// Makes the missing parents of `target`, outermost first; returns them innermost first, as
  /// `removeEmpty` takes them.
  static func makeParents(of target: URL) throws -> [URL] {
    var missing: [URL] = []
    var parent = target.deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: parent.path) && parent.pathComponents.count > 1 {
      missing.append(parent)
      parent = parent.deletingLastPathComponent()
    }
    for folder in missing.reversed() {
      guard mkdir(folder.path, 0o755) == 0 || errno == EEXIST else {
        let reason = FileSystemReason.words(errno)
        removeEmpty(missing)
        throw CheckpointError.writeFailed(path: folder.path, reason: reason)
      }
    }
    return missing
  }

  static func removeEmpty(_ folders: [URL]) {
    for folder in folders { rmdir(folder.path) }
  }

  /// Removes `.NAME.partial-PID-…` siblings of `target` whose process is gone (a run killed
  /// outright, which no handler could clean), and puts back a `.NAME.replaced-PID-…` folder that
  /// a run killed in the middle of replacing `target` left aside.
  static func removeStale(beside target: URL) {
    let parent = target.deletingLastPathComponent()
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: parent.path) else {
      return
    }
    for entry in entries {
      for kind in ["partial", "replaced"] {
        let prefix = ".\(target.lastPathComponent).\(kind)-"
        guard entry.hasPrefix(prefix),
          let pid = Int32(entry.dropFirst(prefix.count).prefix { $0 != "-" }),
          pid > 0, pid != getpid(), kill(pid, 0) != 0, errno == ESRCH
        else { continue }
        let url = parent.appendingPathComponent(entry)
        if kind == "replaced", !FileManager.default.fileExists(atPath: target.path),
          rename(url.path, target.path) == 0
        {
          continue
        }
        try? FileManager.default.removeItem(at: url)
      }
    }
  }
}

/// A single output file (statistics, predictions, a GGUF) that appears complete or not at all:
/// written into a temporary sibling, synced, and renamed over the target. An interrupt, or an
/// error, removes the temporary file and any parent folders this made.
public enum AtomicFile {
  public static func write(_ data: Data, to target: URL, registry: CleanupRegistry = .shared)
    throws
  {
    try write(to: target, registry: registry) { sink in
      try data.withUnsafeBytes { try sink($0) }
    }
  }

  /// Streams the file: `body` hands its bytes, a chunk at a time, to the sink it is given.
  public static func write(
    to target: URL, registry: CleanupRegistry = .shared,
    _ body: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void
  ) throws {
    let target = target.standardizedFileURL
    let parents = try TemporarySibling.makeParents(of: target)
    TemporarySibling.removeStale(beside: target)
    let temporary = TemporarySibling.url(for: target)
    let id = registry.register {
      unlink(temporary.path)
      TemporarySibling.removeEmpty(parents)
    }
    do {
      let out = try OutputFile(path: temporary.path)
      do {
        try body { try out.write($0) }
        try out.finish()
      } catch {
        out.abandon()
        throw error
      }
      try registry.withLock {
        guard rename(temporary.path, target.path) == 0 else {
          throw CheckpointError.writeFailed(
            path: target.path, reason: FileSystemReason.words(errno))
        }
        registry.unregister(id)
      }
    } catch {
      registry.unregister(id)
      unlink(temporary.path)
      TemporarySibling.removeEmpty(parents)
      // The user named the target, not its temporary sibling.
      if case .writeFailed(let path, let reason) = error as? CheckpointError,
        path == temporary.path
      {
        throw CheckpointError.writeFailed(path: target.path, reason: reason)
      }
      throw error
    }
  }
}
