import Foundation
import Tensors

#if canImport(Glibc)
  import Glibc
#endif

/// An output folder that appears complete or not at all.
///
/// Files are written into a hidden temporary folder beside the target (same parent, so the final
/// rename stays on one file system); `commit()` renames it into place. Without a commit (an error
/// was thrown, the process unwound) `discard()` or `deinit` removes the temporary folder and any
/// parent folders this made, leaving nothing behind; an interrupt does the same through
/// `CleanupRegistry`, and a later run removes what a killed one left (`.NAME.partial-PID-…` of a
/// process that is gone).
///
/// Refused at creation (`OutputPolicy`): a target equal to, inside, or containing an input
/// (paths are compared after resolving symbolic links), the current folder, a target that exists
/// and is not a folder, and a non-empty target unless `force` (or unless it holds only
/// `ownFiles`, the files a report writes, so that a report can be written again). A replaced
/// folder is swapped whole at `commit()`, never merged into: a failed run leaves it untouched,
/// and of two runs replacing one folder at once each commits its own complete folder.
public final class OutputFolder: @unchecked Sendable {
  /// Where the output ends up.
  public let target: URL
  /// The temporary folder to write into until `commit()`.
  public let url: URL
  /// Whether an existing folder may be replaced.
  public let force: Bool
  public private(set) var isCommitted = false
  private var isDiscarded = false
  private let createdParents: [URL]
  private let registry: CleanupRegistry
  private var cleanupID: Int?
  /// The `flock` on the temporary folder that marks it as this live run's (see `removeStale`).
  private var lockFD: Int32 = -1

  /// A target checked against `inputs`, each named "the input model folder" in refusals.
  public convenience init(target: URL, inputs: [URL] = [], force: Bool = false) throws {
    try self.init(
      target: target,
      policy: OutputPolicy(inputs: inputs.map { .init($0, what: "the input model folder") }),
      force: force)
  }

  public init(
    target: URL, policy: OutputPolicy, force: Bool = false, ownFiles: Set<String> = [],
    registry: CleanupRegistry = .shared
  ) throws {
    let target = target.standardizedFileURL
    self.target = target
    self.registry = registry
    let path = target.path
    try policy.check(target, isFolder: true)

    var replaceable = force
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
      let contents: [String]
      do {
        contents = try FileManager.default.contentsOfDirectory(atPath: path)
      } catch {
        throw CheckpointError.outputRefused(path: path, reason: FileSystemReason.words(error))
      }
      if !contents.isEmpty && !ownFiles.isEmpty && Set(contents).isSubset(of: ownFiles) {
        replaceable = true
      }
      if !contents.isEmpty && !replaceable {
        guard !ownFiles.isEmpty else {
          throw CheckpointError.outputNotEmpty(path: path, appeared: false)
        }
        throw CheckpointError.outputRefused(
          path: path,
          reason:
            "the folder exists and holds files this does not write; choose a new or empty folder")
      }
    }
    self.force = replaceable

    let parents = try TemporarySibling.makeParents(of: target)
    createdParents = parents
    TemporarySibling.removeStale(beside: target)
    let temporary = TemporarySibling.url(for: target)
    url = temporary
    // Registered before the folder exists, so that an interrupt the moment it appears still
    // removes it and the parents made for it (removing a folder not yet made does nothing).
    let cleanup = registry.register {
      FileNode.remove(temporary.path)
      TemporarySibling.removeEmpty(parents)
    }
    guard mkdir(temporary.path, 0o755) == 0, let lock = FileNode.lock(temporary.path) else {
      let reason = FileSystemReason.words(errno)
      registry.unregister(cleanup)
      rmdir(temporary.path)
      TemporarySibling.removeEmpty(parents)
      // The user named the target, not its hidden temporary sibling.
      throw CheckpointError.writeFailed(path: path, reason: reason)
    }
    lockFD = lock
    cleanupID = cleanup
  }

  deinit { discard() }

  /// The path of `name` inside the temporary folder.
  public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

  /// The path inside the temporary folder where `other` (a path inside `target`) will be after
  /// the commit, its folders made; nil when `other` is not inside `target`.
  public func folder(for other: URL) throws -> URL? {
    let inner = OutputPolicy.resolve(other)
    let outer = OutputPolicy.resolve(target)
    guard inner.count > outer.count, inner.starts(with: outer) else { return nil }
    var folder = url
    for component in inner[outer.count...] { folder.appendPathComponent(component) }
    do {
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    } catch {
      throw CheckpointError.writeFailed(path: folder.path, reason: FileSystemReason.words(error))
    }
    return folder
  }

  /// Runs `body`, which writes into the temporary folder; a write error names the path the file
  /// would have had in the target, which is the one the user gave.
  public func naming<T>(_ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let error as CheckpointError {
      throw error.naming(url.path, as: target.path)
    }
  }

  /// Writes `data` as file `name` of the output.
  public func write(_ data: Data, as name: String) throws {
    try Self.write(data, to: file(name))
  }

  /// Writes `data` as the file at `url` (inside a temporary folder), synced.
  public static func write(_ data: Data, to url: URL) throws {
    let out = try OutputFile(path: url.path)
    do {
      try data.withUnsafeBytes { try out.write($0) }
      try out.finish()
    } catch {
      out.abandon()
      throw error
    }
  }

  /// Writes `files` (name, bytes) into `folder`, a folder inside a temporary output (made if
  /// needed), each synced.
  public static func write(_ files: [(name: String, data: Data)], into folder: URL) throws {
    do {
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    } catch {
      throw CheckpointError.writeFailed(path: folder.path, reason: FileSystemReason.words(error))
    }
    for file in files { try write(file.data, to: folder.appendingPathComponent(file.name)) }
  }

  /// Copies a file (a tokenizer file, say) into the output, as `name` (default: its own name).
  /// Its contents are copied (see `copyContents`), never a symbolic link as a link.
  public func copy(_ source: URL, as name: String? = nil) throws {
    try copyContents(source, as: name)
  }

  /// Copies the contents of `source` (a side file such as tokenizer.json) into the output as a
  /// regular file named `name` (default: its own name). A symbolic link is followed (a hub
  /// cache snapshot is a folder of relative links into `../../blobs`), and what it reaches must
  /// be a regular file: a FIFO, device or folder is refused, never opened for reading (a FIFO
  /// would block).
  public func copyContents(_ source: URL, as name: String? = nil) throws {
    try InputFile.requireRegular(source.path)
    let destination = file(name ?? source.lastPathComponent)
    let fd = open(source.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else {
      throw CheckpointError.cannotOpen(path: source.path, reason: FileSystemReason.words(errno))
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
      throw InputFileError.notRegular(
        path: source.path, kind: InputFile.describe(info.st_mode & S_IFMT))
    }
    let out = try OutputFile(path: destination.path)
    do {
      let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
      defer { buffer.deallocate() }
      while true {
        let n = read(fd, buffer.baseAddress, buffer.count)
        if n < 0 {
          if errno == EINTR { continue }
          throw CheckpointError.cannotOpen(
            path: source.path, reason: FileSystemReason.words(errno))
        }
        if n == 0 { break }
        try out.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
      }
      try out.finish()
    } catch {
      out.abandon()
      throw error
    }
  }

  /// Moves the finished output into place. An existing target (with `force`) is exchanged with
  /// the temporary folder in one step and then removed; should the target vanish or reappear
  /// meanwhile (another run committing), the commit tries again.
  public func commit() throws {
    try registry.withLock {
      let installed = try install()
      installed.finish()
    }
  }

  /// Phase one of a commit (under the registry's lock): the folder renamed or exchanged into
  /// place, the replaced folder kept until `finish` so that `rollback` can put it back.
  func install() throws -> Installed {
    precondition(!isCommitted && !isDiscarded, "OutputFolder committed or discarded twice")
    // The last line of defence against a matrix product oneDNN refused after the last check:
    // nothing computed from its zeroed output is ever committed.
    try MatMul.checkFailures()
    let path = target.path
    // What is at the target now is checked again: it may have changed while the run worked.
    if let kind = FileNode.kind(path), kind != S_IFDIR {
      throw CheckpointError.outputRefused(
        path: path,
        reason: kind == S_IFREG
          ? "it exists and is not a folder"
          : "it is \(FileNode.describe(kind)), not a folder; refusing to replace it")
    }
    if let mount = FileNode.mountPoints(atOrUnder: path).first {
      throw CheckpointError.outputRefused(
        path: path, reason: "it is or holds the mount point \(mount); refusing to replace it")
    }
    var replaced = false
    var aside: URL?
    for _ in 0..<16 {
      if rename(url.path, path) == 0 { break }
      let code = errno
      guard code == ENOTEMPTY || code == EEXIST else {
        if code == ENOTDIR || code == EISDIR {
          throw CheckpointError.outputRefused(path: path, reason: "it exists and is not a folder")
        }
        throw CheckpointError.writeFailed(path: path, reason: FileSystemReason.words(code))
      }
      guard force else {
        throw CheckpointError.outputNotEmpty(path: path, appeared: true)
      }
      switch Self.exchange(url.path, path) {
      case 0:
        replaced = true
      case ENOENT:
        continue  // The target went away in between: a plain rename will do.
      case EINVAL, ENOSYS:
        aside = try moveAside()
      case let failure:
        throw CheckpointError.writeFailed(path: path, reason: FileSystemReason.words(failure))
      }
      break
    }
    guard FileNode.exists(path), replaced || aside != nil || !FileNode.exists(url.path) else {
      throw CheckpointError.writeFailed(
        path: path, reason: "other runs kept replacing the folder; try again")
    }
    isCommitted = true
    if let cleanupID { registry.unregister(cleanupID) }
    cleanupID = nil
    let temporary = url
    let parents = createdParents
    return Installed(
      rollback: { [self] in
        if replaced {
          // The old output is in the temporary folder's place: swap back, then drop the new.
          if Self.exchange(temporary.path, path) == 0 { FileNode.remove(temporary.path) }
        } else if let aside {
          let trash = TemporarySibling.url(for: target)
          if rename(path, trash.path) == 0 { FileNode.remove(trash.path) }
          rename(aside.path, path)
        } else {
          FileNode.remove(path)
          TemporarySibling.removeEmpty(parents)
        }
        release()
      },
      finish: { [self] in
        // After an exchange the old output is in the temporary folder's place.
        if replaced { FileNode.remove(temporary.path) }
        if let aside { FileNode.remove(aside.path) }
        release()
      })
  }

  private func release() {
    if lockFD >= 0 { close(lockFD) }
    lockFD = -1
  }

  /// Where the file system cannot exchange two folders: the old one is moved aside (kept until
  /// the commit finishes), the new one renamed in, and the old one restored should that fail.
  private func moveAside() throws -> URL {
    let path = target.path
    let aside = target.deletingLastPathComponent().appendingPathComponent(
      TemporarySibling.name(for: target, kind: "replaced"))
    guard rename(path, aside.path) == 0 else {
      throw CheckpointError.writeFailed(path: path, reason: FileSystemReason.words(errno))
    }
    guard rename(url.path, path) == 0 else {
      let reason = FileSystemReason.words(errno)
      _ = rename(aside.path, path)
      throw CheckpointError.writeFailed(path: path, reason: reason)
    }
    return aside
  }

  /// Swaps two paths atomically (Linux `renameat2(RENAME_EXCHANGE)`); 0 or the `errno`.
  static func exchange(_ a: String, _ b: String) -> Int32 {
    #if os(Linux)
      guard let renameat2 = Self.renameat2 else { return ENOSYS }
      return renameat2(AT_FDCWD, a, AT_FDCWD, b, 2) == 0 ? 0 : errno
    #else
      return ENOSYS
    #endif
  }

  #if os(Linux)
    typealias RenameAt2 =
      @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    // Looked up at run time: not every C library the module map sees declares it.
    static let renameat2: RenameAt2? = {
      guard let symbol = dlsym(nil, "renameat2") else { return nil }
      return unsafeBitCast(symbol, to: RenameAt2.self)
    }()
  #endif

  /// Removes the temporary folder (and parents this made, when empty). Does nothing after a commit.
  public func discard() {
    registry.withLock {
      guard !isCommitted, !isDiscarded else { return }
      isDiscarded = true
      if let cleanupID { registry.unregister(cleanupID) }
      cleanupID = nil
      FileNode.remove(url.path)
      release()
      TemporarySibling.removeEmpty(createdParents)
    }
  }

  static func reason(_ error: Error) -> String { FileSystemReason.words(error) }
}
