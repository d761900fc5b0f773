import Foundation

/// Control of the OpenMP runtime oneDNN threads with, looked up at run time (no link-time
/// dependency on libgomp).
public enum OpenMP {
  typealias SetThreads = @convention(c) (Int32) -> Void

  static let setThreads: SetThreads? = {
    // libgomp is already loaded as oneDNN's dependency; RTLD_NOLOAD only finds it.
    guard let library = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD),
      let symbol = dlsym(library, "omp_set_num_threads")
    else { return nil }
    return unsafeBitCast(symbol, to: SetThreads.self)
  }()

  /// Runs `body` with this thread's oneDNN calls single-threaded, for work that is already
  /// spread over the cores by the caller (calling a threaded library from several threads at
  /// once would oversubscribe them).
  public static func singleThreaded<T>(_ body: () throws -> T) rethrows -> T {
    setThreads?(1)
    defer { setThreads?(Int32(Parallel.cores)) }
    return try body()
  }
}
