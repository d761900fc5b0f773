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
    try Self.checkNode(target, isFolder: isFolder)
    try Self.checkParents(of: target)
  }

  /// What is at the target itself: never a symbolic link, a device, a FIFO or a socket (writing
  /// would follow it or replace the node), never a mount point, and a folder never one holding a
  /// mount point (replacing it would delete across file systems).
  static func checkNode(_ target: URL, isFolder: Bool) throws {
    let path = target.path
    if isFolder {
      let current = Self.resolve(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
      let resolvedTarget = Self.resolve(target)
      if current.starts(with: resolvedTarget) {
        throw CheckpointError.outputRefused(
          path: path,
          reason: current == resolvedTarget
            ? "it is the current folder, which replacing it would delete"
            : "it contains the current folder, which replacing it would delete")
      }
    }
    if let kind = FileNode.kind(path) {
      if kind == S_IFLNK {
        throw CheckpointError.outputRefused(
          path: path,
          reason:
            "it is a symbolic link, which Streamline never writes through or replaces; give the real path"
        )
      }
      if isFolder && kind != S_IFDIR {
        throw CheckpointError.outputRefused(
          path: path,
          reason: kind == S_IFREG
            ? "it exists and is not a folder"
            : "it is \(FileNode.describe(kind)), not a folder; refusing to replace it")
      }
      if !isFolder && kind == S_IFDIR {
        throw CheckpointError.outputRefused(path: path, reason: "it is a folder; give a file name")
      }
      if !isFolder && kind != S_IFREG {
        throw CheckpointError.outputRefused(
          path: path,
          reason: "it is \(FileNode.describe(kind)), not a regular file; refusing to replace it")
      }
      let mounts = FileNode.mountPoints(atOrUnder: path)
      if let first = mounts.first {
        let resolved = NSString.path(withComponents: Self.resolve(target))
        throw CheckpointError.outputRefused(
          path: path,
          reason: first == resolved || first == path
            ? "it is a mount point, which cannot be replaced; give a path inside it or elsewhere"
            : "it contains the mount point \(first), which replacing it would delete across file systems"
        )
      }
    }
  }

  /// The deepest existing ancestor must be a folder (not a symbolic link loop, a dangling link or
  /// a file), on a file system this can write.
  static func checkParents(of target: URL) throws {
    let path = target.path
    var ancestor = target.deletingLastPathComponent()
    while FileNode.kind(ancestor.path) == nil && ancestor.pathComponents.count > 1 {
      ancestor = ancestor.deletingLastPathComponent()
    }
    var info = stat()
    if stat(ancestor.path, &info) != 0 {
      let code = errno
      let what =
        code == ELOOP
        ? "a symbolic link loop" : code == ENOENT ? "a dangling symbolic link" : nil
      throw CheckpointError.outputRefused(
        path: path,
        reason: what.map { "\(ancestor.path) is \($0), not a folder" }
          ?? "\(ancestor.path): \(FileSystemReason.words(code))")
    }
    guard (info.st_mode & S_IFMT) == S_IFDIR else {
      let kind = info.st_mode & S_IFMT
      throw CheckpointError.outputRefused(
        path: path,
        reason: kind == S_IFREG
          ? "\(ancestor.path) is a file, not a folder"
          : "\(ancestor.path) is \(FileNode.describe(kind)), not a folder")
    }
    var volume = statvfs()
    if statvfs(ancestor.path, &volume) == 0, volume.f_flag & UInt(ST_RDONLY) != 0 {
      throw CheckpointError.outputRefused(
        path: path, reason: "\(ancestor.path) is on a read-only file system")
    }
    if access(ancestor.path, W_OK | X_OK) != 0 {
      throw CheckpointError.outputRefused(
        path: path, reason: "\(ancestor.path): \(FileSystemReason.words(errno))")
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

  /// Removes `.NAME.partial-…` siblings of `target` that no run owns (each run holds an `flock`
  /// on its partial output for its whole life, so a lock this can take means the run is gone,
  /// whatever process or PID namespace it ran in), and puts back a `.NAME.replaced-…` folder
  /// that a run killed in the middle of replacing `target` left aside. Removal never follows a
  /// symbolic link or crosses a mount point.
  static func removeStale(beside target: URL) {
    let parent = target.deletingLastPathComponent()
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: parent.path) else {
      return
    }
    for entry in entries {
      for kind in ["partial", "replaced", "previous"] {
        guard entry.hasPrefix(".\(target.lastPathComponent).\(kind)-") else { continue }
        let url = parent.appendingPathComponent(entry)
        guard let kindOfNode = FileNode.kind(url.path),
          kindOfNode == S_IFDIR || kindOfNode == S_IFREG,
          let lock = FileNode.lock(url.path)
        else { continue }
        defer { close(lock) }
        if kind == "replaced", !FileNode.exists(target.path), rename(url.path, target.path) == 0 {
          continue
        }
        FileNode.remove(url.path)
      }
    }
  }
}

/// A file written beside its target (a hidden `.NAME.partial-…` sibling, made and locked when
/// this is made, so that an unwritable place fails before any work) and renamed over the target
/// when committed, alone (`commit()`) or with a run's other outputs (`OutputSet`). Discarded
/// (removed) on error, interrupt or `deinit` without a commit.
public final class StagedFile: @unchecked Sendable {
  public let target: URL
  /// The temporary file.
  public let url: URL
  private let parents: [URL]
  private let registry: CleanupRegistry
  private var cleanupID: Int?
  private var lockFD: Int32 = -1
  private var backup: URL?
  public private(set) var isCommitted = false
  private var isDiscarded = false

  /// A target checked by `policy`; an existing file is replaced only with `force` (nil: always).
  public convenience init(
    _ path: String, policy: OutputPolicy, force: Bool? = nil,
    registry: CleanupRegistry = .shared
  ) throws {
    let url = try policy.file(path)
    if force == false, FileNode.exists(url.path) {
      throw CheckpointError.outputFileExists(path: path)
    }
    try self.init(checked: url, registry: registry)
  }

  /// A target already checked.
  public init(checked target: URL, registry: CleanupRegistry = .shared) throws {
    let target = target.standardizedFileURL
    self.target = target
    self.registry = registry
    parents = try TemporarySibling.makeParents(of: target)
    TemporarySibling.removeStale(beside: target)
    let temporary = TemporarySibling.url(for: target)
    url = temporary
    let parents = self.parents
    let id = registry.register {
      FileNode.remove(temporary.path)
      TemporarySibling.removeEmpty(parents)
    }
    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
    guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      let reason = FileSystemReason.words(errno)
      if fd >= 0 { close(fd) }
      registry.unregister(id)
      unlink(temporary.path)
      TemporarySibling.removeEmpty(parents)
      throw CheckpointError.writeFailed(path: target.path, reason: reason)
    }
    lockFD = fd
    cleanupID = id
  }

  deinit { discard() }

  /// Streams the file's bytes: `body` hands them, a chunk at a time, to the sink it is given.
  /// An error names the target, not the temporary file.
  public func write(_ body: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
    do {
      let out = try OutputFile(path: url.path)
      do {
        try body { try out.write($0) }
        try out.finish()
      } catch {
        out.abandon()
        throw error
      }
    } catch CheckpointError.writeFailed(let path, let reason) where path == url.path {
      throw CheckpointError.writeFailed(path: target.path, reason: reason)
    }
  }

  public func write(_ data: Data) throws {
    try write { sink in try data.withUnsafeBytes { try sink($0) } }
  }

  /// Renames the file into place; nothing else is committed with it.
  public func commit() throws {
    try registry.withLock {
      let installed = try install()
      installed.finish()
    }
  }

  /// Phase one of a commit (under the registry's lock): the file renamed over its target, the
  /// target's previous file kept as a hard link aside until `finish`, so that `rollback` can put
  /// it back.
  func install() throws -> Installed {
    precondition(!isCommitted && !isDiscarded, "StagedFile committed or discarded twice")
    let path = target.path
    if let kind = FileNode.kind(path), kind != S_IFREG {
      throw CheckpointError.outputRefused(
        path: path,
        reason: "it is \(FileNode.describe(kind)), not a regular file; refusing to replace it")
    }
    if FileNode.exists(path) {
      let aside = target.deletingLastPathComponent().appendingPathComponent(
        TemporarySibling.name(for: target, kind: "previous"))
      // A hard link keeps the target in place until the rename; where the file system has
      // none, the old file is moved aside instead.
      guard link(path, aside.path) == 0 || rename(path, aside.path) == 0 else {
        throw CheckpointError.writeFailed(path: path, reason: FileSystemReason.words(errno))
      }
      backup = aside
    }
    guard rename(url.path, path) == 0 else {
      let reason = FileSystemReason.words(errno)
      if let backup {
        // Moved aside (no hard link): back in place; linked: the target never left.
        if !FileNode.exists(path) { rename(backup.path, path) } else { unlink(backup.path) }
      }
      backup = nil
      throw CheckpointError.writeFailed(path: path, reason: reason)
    }
    isCommitted = true
    if let cleanupID { registry.unregister(cleanupID) }
    cleanupID = nil
    return Installed(
      rollback: { [self] in
        if let backup {
          rename(backup.path, path)
        } else {
          unlink(path)
          TemporarySibling.removeEmpty(parents)
        }
        release()
      },
      finish: { [self] in
        if let backup { unlink(backup.path) }
        release()
      })
  }

  private func release() {
    if lockFD >= 0 { close(lockFD) }
    lockFD = -1
  }

  /// Removes the temporary file (and parents this made, when empty); nothing after a commit.
  public func discard() {
    registry.withLock {
      guard !isCommitted, !isDiscarded else { return }
      isDiscarded = true
      if let cleanupID { registry.unregister(cleanupID) }
      cleanupID = nil
      unlink(url.path)
      release()
      TemporarySibling.removeEmpty(parents)
    }
  }
}

/// A committed output that can still be taken back (`rollback`) until the whole set is in place
/// (`finish` then drops what it replaced).
struct Installed {
  let rollback: () -> Void
  let finish: () -> Void
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
    try OutputPolicy.checkNode(target, isFolder: false)
    let file = try StagedFile(checked: target, registry: registry)
    defer { file.discard() }
    try file.write(body)
    try file.commit()
  }
}
