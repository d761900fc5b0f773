import Dispatch
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Temporary output paths of this process that an interrupt must remove: `OutputFolder` and
/// `AtomicFile` register the removal of their temporary folder or file (and the parent folders
/// they made) while they are unfinished, and unregister it once committed or discarded.
///
/// A commit holds the registry's lock around its renames, so an interrupt's clean-up runs either
/// before the commit (the output never appears) or after it (nothing is left to remove), never
/// between the two renames of a replacement.
public final class CleanupRegistry: @unchecked Sendable {
  public static let shared = CleanupRegistry()

  // Recursive: a commit unregisters while holding the lock.
  private let lock = NSRecursiveLock()
  private var actions: [(id: Int, action: () -> Void)] = []
  private var nextID = 0

  public init() {}

  /// Adds a clean-up action; returns the id that `unregister` takes.
  public func register(_ action: @escaping () -> Void) -> Int {
    withLock {
      nextID += 1
      actions.append((nextID, action))
      return nextID
    }
  }

  public func unregister(_ id: Int) {
    withLock { actions.removeAll { $0.id == id } }
  }

  /// How many clean-ups are pending (for tests).
  public var pending: Int { withLock { actions.count } }

  public func withLock<T>(_ body: () throws -> T) rethrows -> T {
    lock.lock()
    defer { lock.unlock() }
    return try body()
  }

  /// Runs every pending clean-up, newest first, and forgets them.
  public func runAll() {
    withLock {
      for entry in actions.reversed() { entry.action() }
      actions.removeAll()
    }
  }
}

/// SIGINT and SIGTERM remove the registered temporary outputs, then end the process with the
/// shell's status for the signal (130, 143). The signals are taken off their default action and
/// delivered through dispatch sources, so the clean-up runs as ordinary code on another thread
/// while the main thread may be anywhere in a long computation.
public enum InterruptCleanup {
  nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

  public static func install(registry: CleanupRegistry = .shared) {
    guard sources.isEmpty else { return }
    for (number, status) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler {
        registry.runAll()
        let line = "\nstreamline: interrupted; unfinished output removed\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        _exit(status)
      }
      source.resume()
      sources.append(source)
    }
  }
}
