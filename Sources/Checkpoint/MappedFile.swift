import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A read-only memory map of a whole file.
///
/// Checkpoint tensors are read straight out of the map, so a model never has to be read into
/// memory; `release` hands pages back to the kernel once a layer has been converted, which keeps
/// the resident size of a streamed pass near one layer.
public final class MappedFile: @unchecked Sendable {
  public let path: String
  public let size: Int
  public let base: UnsafeRawPointer?

  public init(path: String) throws {
    self.path = path
    try InputFile.requireRegular(path)
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
      throw CheckpointError.cannotOpen(path: path, reason: FileSystemReason.words(errno))
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      throw CheckpointError.cannotOpen(path: path, reason: FileSystemReason.words(errno))
    }
    guard (info.st_mode & S_IFMT) == S_IFREG else {
      throw CheckpointError.cannotOpen(path: path, reason: "not a regular file")
    }
    size = Int(info.st_size)
    if size == 0 {
      base = nil
      return
    }
    let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
    guard let mapped, mapped != MAP_FAILED else {
      throw CheckpointError.cannotOpen(path: path, reason: FileSystemReason.words(errno))
    }
    base = UnsafeRawPointer(mapped)
  }

  deinit {
    if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
  }

  /// The bytes `range`, which the caller has checked lie inside the file.
  public func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
    guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
  }

  /// Drops the pages of `range` from this process's resident set; they are read again from the
  /// file if touched later.
  public func release(_ range: Range<Int>) {
    guard let base, !range.isEmpty else { return }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = (Int(bitPattern: base) + range.lowerBound) / page * page
    let end = Int(bitPattern: base) + range.upperBound
    madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED)
  }
}
