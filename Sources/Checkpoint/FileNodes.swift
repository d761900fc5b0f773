import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// What lies at a path, without following a final symbolic link, in the words a refusal uses;
/// the mount points of this process; removal that never follows a symbolic link or crosses into
/// another file system; and the `flock` that owns a partial output for its run's life.
public enum FileNode {
  /// The kind of node at `path` (`lstat`), nil when nothing is there.
  public static func kind(_ path: String) -> mode_t? {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    return info.st_mode & S_IFMT
  }

  /// "a symbolic link", "a FIFO (named pipe)", "a character device", ….
  public static func describe(_ kind: mode_t) -> String {
    kind == S_IFLNK ? "a symbolic link" : InputFile.describe(kind)
  }

  /// Whether the path exists without following a final symbolic link.
  static func exists(_ path: String) -> Bool { kind(path) != nil }

  /// Mount points of this process's mount namespace (`/proc/self/mountinfo`), as absolute paths.
  public static func mountPoints() -> [String] {
    guard let data = FileManager.default.contents(atPath: "/proc/self/mountinfo") else {
      return []
    }
    var points: [String] = []
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: false)
      guard fields.count > 4 else { continue }
      points.append(unescape(String(fields[4])))
    }
    return points
  }

  /// mountinfo writes space, tab, newline and backslash as octal escapes (`\040`).
  static func unescape(_ field: String) -> String {
    guard field.contains("\\") else { return field }
    var bytes: [UInt8] = []
    let utf8 = Array(field.utf8)
    var i = 0
    while i < utf8.count {
      if utf8[i] == UInt8(ascii: "\\"), i + 3 < utf8.count,
        let value = UInt8(String(decoding: utf8[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
      {
        bytes.append(value)
        i += 4
      } else {
        bytes.append(utf8[i])
        i += 1
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// The mount points at `path` or under it (after resolving symbolic links in `path`), found
  /// both in the mount table (bind mounts of the same file system have the same device) and by
  /// the device of the path's own node against its parent's.
  public static func mountPoints(atOrUnder path: String) -> [String] {
    let resolved = OutputPolicy.resolve(URL(fileURLWithPath: path))
    var found = mountPoints().filter { point in
      let components = URL(fileURLWithPath: point).standardizedFileURL.pathComponents
      return components.count >= resolved.count && components.starts(with: resolved)
        && components.count > 1
    }
    var own = stat()
    var parent = stat()
    let parentPath = URL(fileURLWithPath: path).deletingLastPathComponent().path
    if lstat(path, &own) == 0, (own.st_mode & S_IFMT) == S_IFDIR, stat(parentPath, &parent) == 0,
      own.st_dev != parent.st_dev, !found.contains(path)
    {
      found.append(path)
    }
    return found.sorted()
  }

  /// Removes `path` and, for a folder, everything under it, never following a symbolic link
  /// (a link is removed, not what it points to) and never entering a folder on another device
  /// or a mount point (those are left, and so are the folders holding them). Best effort: what
  /// cannot be removed stays.
  public static func remove(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    guard (info.st_mode & S_IFMT) == S_IFDIR else {
      unlink(path)
      return
    }
    let mounts = Set(mountPoints())
    let resolved = NSString.path(withComponents: OutputPolicy.resolve(URL(fileURLWithPath: path)))
    removeTree(path, resolved: resolved, device: info.st_dev, mounts: mounts)
  }

  private static func removeTree(
    _ path: String, resolved: String, device: dev_t, mounts: Set<String>
  ) {
    guard !mounts.contains(resolved) else { return }
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { return }
    var own = stat()
    guard fstat(fd, &own) == 0, own.st_dev == device, let directory = fdopendir(fd) else {
      close(fd)
      return
    }
    var folders: [String] = []
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
      }
      if name == "." || name == ".." { continue }
      var info = stat()
      guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
      if (info.st_mode & S_IFMT) == S_IFDIR {
        if info.st_dev == device { folders.append(name) }
      } else {
        unlinkat(fd, name, 0)
      }
    }
    for name in folders {
      removeTree(
        path + "/" + name, resolved: resolved + "/" + name, device: device, mounts: mounts)
    }
    closedir(directory)
    rmdir(path)
  }

  /// An exclusive `flock` on `path` (a partial folder or file), or nil when another open file
  /// holds it (a live run, in whatever process or PID namespace). The lock lasts until the
  /// returned descriptor is closed.
  static func lock(_ path: String, wait: Bool = false) -> Int32? {
    let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { return nil }
    guard flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0 else {
      close(fd)
      return nil
    }
    return fd
  }
}
