import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Input files must be regular files, checked with `stat` before anything opens them: opening a
/// FIFO for reading blocks until a writer appears (every command would hang on a `mkfifo`'d
/// `model.safetensors`), and a device, socket or folder is never a model, a config or a data set.
public enum InputFile {
  /// Throws `InputFileError.notRegular` when `path` exists and is not a regular file (after
  /// symbolic links); a missing file is left to the caller's own message.
  public static func requireRegular(_ path: String) throws {
    var info = stat()
    guard stat(path, &info) == 0 else { return }
    let kind = info.st_mode & S_IFMT
    guard kind != S_IFREG else { return }
    throw InputFileError.notRegular(path: path, kind: describe(kind))
  }

  static func describe(_ kind: mode_t) -> String {
    switch kind {
    case S_IFIFO: return "a FIFO (named pipe)"
    case S_IFDIR: return "a folder"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFSOCK: return "a socket"
    default: return "not a plain file"
    }
  }
}

/// An input path that names something other than a regular file.
public enum InputFileError: Error, CustomStringConvertible, Equatable {
  case notRegular(path: String, kind: String)

  public var description: String {
    switch self {
    case .notRegular(let path, let kind):
      return "\(path): is \(kind), not a regular file; refusing to read it"
    }
  }
}
