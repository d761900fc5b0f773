import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// `Checkpoint.InputFile`'s rule for this dependency-free module: a tokenizer file that exists
/// must be a regular file, checked before it is opened, since opening a FIFO blocks forever.
enum RegularFile {
  static func require(_ path: String) throws {
    var info = stat()
    guard stat(path, &info) == 0, info.st_mode & S_IFMT != S_IFREG else { return }
    throw TokenizerError.notRegularFile(path: path)
  }
}
