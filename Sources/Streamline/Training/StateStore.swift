import Checkpoint
import Foundation
import Tensors

#if canImport(Glibc)
  import Glibc
#endif

/// Raw hidden states `[rows, width]` of several state indices, kept in memory when they fit and
/// otherwise in a memory-mapped scratch file (unlinked at once, so nothing is left behind even
/// if the process dies), which the kernel pages in and out as needed.
public final class StateStore: @unchecked Sendable {
  public let states: [Int]
  public let rows: Int
  public let width: Int
  public let isSpilled: Bool
  let base: UnsafeMutablePointer<Float>
  let bytes: Int

  /// Keeps `states` for `rows` rows; spills to `directory` beyond `memoryLimit` bytes.
  public init(
    states: [Int], rows: Int, width: Int, memoryLimit: Int,
    directory: URL = FileManager.default.temporaryDirectory
  ) throws {
    self.states = states
    self.rows = rows
    self.width = width
    bytes = max(1, states.count * rows * width * MemoryLayout<Float>.size)
    if bytes <= memoryLimit {
      base = .allocate(capacity: bytes / MemoryLayout<Float>.size)
      isSpilled = false
      return
    }
    let path = directory.appendingPathComponent("streamline-states-\(UUID().uuidString)").path
    let fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0o600)
    guard fd >= 0 else {
      throw CheckpointError.writeFailed(
        path: directory.path,
        reason: "cannot create a scratch file for training states: \(FileSystemReason.words(errno))"
      )
    }
    defer { close(fd) }
    unlink(path)
    guard ftruncate(fd, off_t(bytes)) == 0,
      let mapped = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
      mapped != MAP_FAILED
    else {
      throw CheckpointError.writeFailed(
        path: directory.path,
        reason: "no room for \(bytes) bytes of training states: \(FileSystemReason.words(errno))")
    }
    base = mapped.assumingMemoryBound(to: Float.self)
    isSpilled = true
  }

  deinit {
    if isSpilled {
      munmap(base, bytes)
    } else {
      base.deallocate()
    }
  }

  /// State `state`, `[rows, width]`.
  public func pointer(state: Int) -> UnsafeMutablePointer<Float> {
    guard let slot = states.firstIndex(of: state) else {
      preconditionFailure("state \(state) is not kept")
    }
    return base + slot * rows * width
  }

  public func contains(_ state: Int) -> Bool { states.contains(state) }

  /// Hands the whole pages of rows `range` of every state back to the kernel once written: a
  /// spilled store's pages stay in the scratch file (shared mapping) and are paged back in when
  /// read, so captured states do not accumulate as resident memory. Nothing for in-memory stores.
  public func release(rows range: Range<Int>) {
    guard isSpilled, !range.isEmpty else { return }
    let page = max(1, Int(sysconf(Int32(_SC_PAGESIZE))))
    let rowBytes = width * MemoryLayout<Float>.size
    for slot in states.indices {
      let first = (slot * rows + range.lowerBound) * rowBytes
      let last = (slot * rows + range.upperBound) * rowBytes
      let start = (first + page - 1) / page * page
      let end = last / page * page
      if end > start {
        madvise(UnsafeMutableRawPointer(base) + start, end - start, Int32(MADV_DONTNEED))
      }
    }
  }
}
