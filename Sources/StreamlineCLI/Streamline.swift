import ArgumentParser
import Foundation

@main
struct StreamlineCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "streamline",
    abstract: "Compress large language models by layer pruning and layer replacement.",
    subcommands: [
      Inspect.self, Analyze.self, Prune.self, Eval.self, Stability.self, Compare.self,
      TokenizeCommand.self, Bench.self,
    ])

  static func main() {
    ThreadPolicy.settle()
    do {
      var command = try parseAsRoot()
      try command.run()
    } catch {
      exit(withError: error)
    }
  }
}

/// oneDNN's OpenMP threads spin for a while after each product by default, holding a core that
/// the Swift kernels between products need. libgomp reads its wait policy from the environment
/// when it is loaded, before `main`, so the process starts itself again once with a passive
/// policy unless the user chose one.
enum ThreadPolicy {
  static func settle() {
    guard ProcessInfo.processInfo.environment["OMP_WAIT_POLICY"] == nil else { return }
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
    let arguments = CommandLine.arguments
    var pointers = arguments.map { strdup($0) } + [nil]
    execv("/proc/self/exe", &pointers)
    // exec failed (no /proc): carry on with the default policy.
  }
}
