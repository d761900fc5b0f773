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

  /// `runAll`, taking the lock if it comes within `seconds`, else without it (a crash).
  public func runAll(waitingAtMost seconds: Double) {
    let locked = lock.lock(before: Date(timeIntervalSinceNow: seconds))
    defer { if locked { lock.unlock() } }
    for entry in actions.reversed() { entry.action() }
    actions.removeAll()
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
/// 129). The signal handler only writes the signal's number to a pipe; a thread started at
/// `install` (so that none has to be created later, when memory may be short) reads it and runs
/// the clean-up as ordinary code while the main thread may be anywhere in a long computation.
/// Before the clean-up the main thread (the one that writes outputs) is stopped, parked in a
/// signal handler of its own, so that nothing it writes can appear after the clean-up. The
/// clean-up takes the registry's lock first, so a commit in progress finishes (or has not
/// started) before the main thread is stopped, and never gives it back.
///
/// SIGXFSZ (a write past `ulimit -f`) is ignored, so the write fails with "file too large" and
/// the run ends through its ordinary error path, removing what it wrote. A run that dies anyway
/// (an allocation that traps under a memory limit: SIGABRT, SIGSEGV, SIGBUS; a library that
/// calls `exit`) still removes its unfinished outputs and says so in one line.
public enum InterruptCleanup {
  nonisolated(unsafe) private static var installed = false
  nonisolated(unsafe) private static var mainThread: pthread_t?
  nonisolated(unsafe) private static var registry = CleanupRegistry.shared
  /// The main thread writes a byte here from its parking handler once it is stopped.
  nonisolated(unsafe) static var parkedPipe: (read: Int32, write: Int32) = (-1, -1)
  /// Interrupting signals' numbers, written by their handler, read by the clean-up thread.
  nonisolated(unsafe) static var signalPipe: (read: Int32, write: Int32) = (-1, -1)
  nonisolated(unsafe) static var crashing: sig_atomic_t = 0
  /// The signal that parks the main thread.
  static let parkSignal = SIGUSR2

  static func makePipe() -> (read: Int32, write: Int32)? {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { return nil }
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    return (fds[0], fds[1])
  }

  static func handle(_ number: Int32, with handler: @convention(c) (Int32) -> Void) {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = handler
    sigemptyset(&action.sa_mask)
    action.sa_flags = 0
    sigaction(number, &action, nil)
    // A mask inherited from whatever started the process must not keep the signal out.
    var unblock = sigset_t()
    sigemptyset(&unblock)
    sigaddset(&unblock, number)
    pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
  }

  public static func install(registry: CleanupRegistry = .shared) {
    guard !installed else { return }
    installed = true
    self.registry = registry
    signal(SIGXFSZ, SIG_IGN)
    // The alarm that ends a clean-up that blocks must reach the process, whatever mask it
    // inherited.
    var alarmSet = sigset_t()
    sigemptyset(&alarmSet)
    sigaddset(&alarmSet, SIGALRM)
    pthread_sigmask(SIG_UNBLOCK, &alarmSet, nil)
    mainThread = pthread_self()
    guard let parked = makePipe(), let signals = makePipe() else { return }
    parkedPipe = parked
    signalPipe = signals
    handle(parkSignal) { _ in
      var byte: UInt8 = 1
      _ = Glibc.write(InterruptCleanup.parkedPipe.write, &byte, 1)
      while true { pause() }
    }
    let cleaner = Thread {
      var byte: UInt8 = 0
      while Glibc.read(InterruptCleanup.signalPipe.read, &byte, 1) != 1 {}
      interrupted(Int32(byte))
    }
    cleaner.stackSize = 1 << 20
    cleaner.start()
    for number in [SIGINT, SIGTERM, SIGHUP] {
      handle(number) { number in
        var byte = UInt8(truncatingIfNeeded: number)
        _ = Glibc.write(InterruptCleanup.signalPipe.write, &byte, 1)
      }
    }
    for number in [SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE] {
      handle(number) { number in InterruptCleanup.crashed(number) }
    }
    atexit {
      // A library ending the process (libgomp when it cannot start a thread): what is still
      // registered is unfinished. After a commit or a discard nothing is.
      InterruptCleanup.registry.runAll()
    }
  }

  static func interrupted(_ number: Int32) {
    // Should the clean-up ever block (the stopped thread holding a lock it needs), the process
    // still ends instead of hanging.
    signal(SIGALRM, SIG_DFL)
    alarm(20)
    let status: Int32 = number == SIGINT ? 130 : number == SIGHUP ? 129 : 143
    // The lock is never given back: no output can be registered or committed after the
    // clean-up, by a main thread that could not be stopped.
    registry.withLock {
      stopMainThread()
      registry.runAll()
      say("\nstreamline: interrupted; unfinished output removed\n")
      _exit(status)
    }
  }

  /// A fatal signal: the unfinished outputs go, one line says why, the status is the shell's.
  static func crashed(_ number: Int32) {
    if crashing != 0 { _exit(128 + number) }
    crashing = 1
    signal(SIGALRM, SIG_DFL)
    alarm(10)
    // The crashed thread may be the one a commit left holding the lock (it is recursive), or
    // another thread holds it: after a second the clean-up runs without it.
    registry.runAll(waitingAtMost: 1)
    let name =
      number == SIGABRT
      ? "SIGABRT" : number == SIGSEGV ? "SIGSEGV" : number == SIGBUS ? "SIGBUS" : "signal \(number)"
    say(
      "streamline: stopped by \(name) (out of memory under a limit, or an internal error); unfinished output removed\n"
    )
    _exit(128 + number)
  }

  static func say(_ line: String) {
    _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
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
