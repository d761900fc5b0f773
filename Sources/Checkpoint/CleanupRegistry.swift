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

/// SIGINT, SIGTERM and SIGHUP (a closed terminal or SSH session) remove the registered
/// temporary outputs, then end the process with the shell's status for the signal (130, 143,
/// 129). The signals are taken off their default action and delivered through dispatch sources,
/// so the clean-up runs as ordinary code on another thread while the main thread may be anywhere
/// in a long computation; before it runs, the main thread (the one that writes outputs) is
/// stopped, parked in a signal handler of its own, so that nothing it writes can appear after
/// the clean-up. The clean-up takes the registry's lock first, so a commit in progress finishes
/// (or has not started) before the main thread is stopped.
///
/// SIGXFSZ (a write past `ulimit -f`) is ignored, so the write fails with "file too large" and
/// the run ends through its ordinary error path, removing what it wrote.
public enum InterruptCleanup {
  nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
  nonisolated(unsafe) private static var mainThread: pthread_t?
  /// The main thread writes a byte here from its parking handler once it is stopped.
  nonisolated(unsafe) static var parkedPipe: (read: Int32, write: Int32) = (-1, -1)
  /// The signal that parks the main thread.
  static let parkSignal = SIGUSR2

  public static func install(registry: CleanupRegistry = .shared) {
    guard sources.isEmpty else { return }
    signal(SIGXFSZ, SIG_IGN)
    mainThread = pthread_self()
    var fds: [Int32] = [-1, -1]
    if pipe(&fds) == 0 {
      parkedPipe = (fds[0], fds[1])
      _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
      _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
      var action = sigaction()
      action.__sigaction_handler.sa_handler = { _ in
        var byte: UInt8 = 1
        _ = Glibc.write(InterruptCleanup.parkedPipe.write, &byte, 1)
        while true { pause() }
      }
      sigemptyset(&action.sa_mask)
      action.sa_flags = 0
      sigaction(parkSignal, &action, nil)
      // A mask inherited from whatever started the process must not keep the signal out.
      var unblock = sigset_t()
      sigemptyset(&unblock)
      sigaddset(&unblock, parkSignal)
      pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    }
    for (number, status) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143)), (SIGHUP, Int32(129))] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler {
        // Should the clean-up ever block (the stopped thread holding a lock it needs), the
        // process still ends instead of hanging.
        signal(SIGALRM, SIG_DFL)
        alarm(20)
        // The lock is never given back: no output can be registered or committed after the
        // clean-up, by a main thread that could not be stopped.
        registry.withLock {
          stopMainThread()
          registry.runAll()
          let line = "\nstreamline: interrupted; unfinished output removed\n"
          _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
          _exit(status)
        }
      }
      source.resume()
      sources.append(source)
    }
  }

  /// Parks the main thread in its signal handler and waits (at most two seconds) until it is.
  private static func stopMainThread() {
    guard let mainThread, parkedPipe.read >= 0, pthread_equal(mainThread, pthread_self()) == 0
    else { return }
    guard pthread_kill(mainThread, parkSignal) == 0 else { return }
    var poller = pollfd(fd: parkedPipe.read, events: Int16(POLLIN), revents: 0)
    _ = poll(&poller, 1, 2000)
  }
}
