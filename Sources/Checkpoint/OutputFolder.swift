import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// An output folder that appears complete or not at all.
///
/// Files are written into a hidden temporary folder beside the target (same parent, so the final
/// rename stays on one file system); `commit()` renames it into place. Without a commit (an error
/// was thrown, the process unwound) `discard()` or `deinit` removes the temporary folder and any
/// parent folders this made, leaving nothing behind.
///
/// Refused at creation: a target equal to, inside, or containing an input model folder (paths are
/// compared after resolving symbolic links), a target that exists and is not a folder, and a
/// non-empty target unless `force`. With `force` the old folder is replaced only at `commit()`,
/// so a failed run leaves it untouched.
public final class OutputFolder: @unchecked Sendable {
  /// Where the output ends up.
  public let target: URL
  /// The temporary folder to write into until `commit()`.
  public let url: URL
  public let force: Bool
  public private(set) var isCommitted = false
  private var isDiscarded = false
  private let createdParents: [URL]

  public init(target: URL, inputs: [URL] = [], force: Bool = false) throws {
    let target = target.standardizedFileURL
    self.target = target
    self.force = force
    let path = target.path
    let manager = FileManager.default
    guard target.lastPathComponent != "/", !target.lastPathComponent.isEmpty else {
      throw CheckpointError.outputRefused(path: path, reason: "it is the root folder")
    }

    let resolvedTarget = Self.resolve(target)
    for input in inputs {
      let resolvedInput = Self.resolve(input.standardizedFileURL)
      if resolvedTarget == resolvedInput {
        throw CheckpointError.outputRefused(
          path: path,
          reason: "it is the input model folder \(input.path); choose another output folder")
      }
      if resolvedTarget.starts(with: resolvedInput) {
        throw CheckpointError.outputRefused(
          path: path,
          reason: "it is inside the input model folder \(input.path); choose a folder outside it")
      }
      if resolvedInput.starts(with: resolvedTarget) {
        throw CheckpointError.outputRefused(
          path: path,
          reason:
            "it contains the input model folder \(input.path), which replacing it would delete")
      }
    }

    var isFolder: ObjCBool = false
    if manager.fileExists(atPath: path, isDirectory: &isFolder) {
      guard isFolder.boolValue else {
        throw CheckpointError.outputRefused(path: path, reason: "it exists and is not a folder")
      }
      let contents = (try? manager.contentsOfDirectory(atPath: path)) ?? []
      if !contents.isEmpty && !force {
        throw CheckpointError.outputRefused(
          path: path, reason: "the folder exists and is not empty; use --force to replace it")
      }
    }

    // Make missing parents, remembering them so that a discard removes them again.
    var missing: [URL] = []
    var parent = target.deletingLastPathComponent()
    while !manager.fileExists(atPath: parent.path) && parent.path != "/" {
      missing.append(parent)
      parent = parent.deletingLastPathComponent()
    }
    for folder in missing.reversed() {
      do {
        try manager.createDirectory(at: folder, withIntermediateDirectories: false)
      } catch {
        Self.removeEmpty(missing)
        throw CheckpointError.writeFailed(path: folder.path, reason: Self.reason(error))
      }
    }
    createdParents = missing

    let name =
      ".\(target.lastPathComponent).partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    url = target.deletingLastPathComponent().appendingPathComponent(name, isDirectory: true)
    guard mkdir(url.path, 0o755) == 0 else {
      let reason = String(cString: strerror(errno))
      Self.removeEmpty(missing)
      throw CheckpointError.writeFailed(path: url.path, reason: reason)
    }
  }

  deinit { discard() }

  /// The path of `name` inside the temporary folder.
  public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

  /// Writes `data` as file `name` of the output.
  public func write(_ data: Data, as name: String) throws {
    let path = file(name).path
    let out = try OutputFile(path: path)
    do {
      try data.withUnsafeBytes { try out.write($0) }
      try out.finish()
    } catch {
      out.abandon()
      throw error
    }
  }

  /// Copies a file (a tokenizer file, say) into the output, as `name` (default: its own name).
  public func copy(_ source: URL, as name: String? = nil) throws {
    let destination = file(name ?? source.lastPathComponent)
    do {
      try FileManager.default.copyItem(at: source, to: destination)
    } catch {
      throw CheckpointError.writeFailed(path: destination.path, reason: Self.reason(error))
    }
  }

  /// Moves the finished output into place. With `force`, an existing target is moved aside first,
  /// restored if the rename fails, and removed after it succeeds.
  public func commit() throws {
    precondition(!isCommitted && !isDiscarded, "OutputFolder committed or discarded twice")
    let manager = FileManager.default
    let path = target.path
    if rename(url.path, path) == 0 {
      isCommitted = true
      return
    }
    let code = errno
    guard code == ENOTEMPTY || code == EEXIST || code == EISDIR || code == ENOTDIR else {
      throw CheckpointError.writeFailed(path: path, reason: String(cString: strerror(code)))
    }
    guard force else {
      throw CheckpointError.outputRefused(
        path: path, reason: "the folder appeared and is not empty; use --force to replace it")
    }
    var isFolder: ObjCBool = false
    guard manager.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
      throw CheckpointError.outputRefused(path: path, reason: "it exists and is not a folder")
    }
    let aside = target.deletingLastPathComponent().appendingPathComponent(
      ".\(target.lastPathComponent).replaced-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    guard rename(path, aside.path) == 0 else {
      throw CheckpointError.writeFailed(path: path, reason: String(cString: strerror(errno)))
    }
    guard rename(url.path, path) == 0 else {
      let reason = String(cString: strerror(errno))
      _ = rename(aside.path, path)
      throw CheckpointError.writeFailed(path: path, reason: reason)
    }
    isCommitted = true
    try? manager.removeItem(at: aside)
  }

  /// Removes the temporary folder (and parents this made, when empty). Does nothing after a commit.
  public func discard() {
    guard !isCommitted, !isDiscarded else { return }
    isDiscarded = true
    try? FileManager.default.removeItem(at: url)
    Self.removeEmpty(createdParents)
  }

  static func removeEmpty(_ folders: [URL]) {
    for folder in folders { rmdir(folder.path) }
  }

  static func reason(_ error: Error) -> String {
    if let error = error as? CheckpointError { return error.description }
    return (error as NSError).localizedDescription
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
