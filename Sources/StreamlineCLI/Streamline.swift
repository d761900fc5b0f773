import ArgumentParser
import Checkpoint
import Foundation
import Tensors

@main
struct StreamlineCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "streamline",
    abstract: "Compress large language models by layer pruning and layer replacement.",
    subcommands: [
      Inspect.self, Analyze.self, Prune.self, Eval.self, Stability.self, Compare.self,
      TokenizeCommand.self, Bench.self, Export.self,
    ])

  static func main() {
    ThreadPolicy.settle()
    if !CPU.hasAVX2 {
      FileHandle.standardError.write(
        Data(
          ("note: oneDNN runs \(CPU.isa) on this CPU, below AVX2, the least Streamline is "
            + "tested on: results stay exact, matrix products run several times slower\n").utf8))
    }
    // An interrupt removes unfinished outputs (after the re-exec: ignored signals are inherited).
    InterruptCleanup.install()
    var command: ParsableCommand
    do {
      command = try parseAsRoot()
    } catch {
      exit(withError: error)
    }
    do {
      try command.run()
    } catch {
      let error = ErrorWording.worded(error)
      if let text = failure(error, in: type(of: command)) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
        Foundation.exit(ExitCode.validationFailure.rawValue)
      }
      exit(withError: error)
    }
  }

  /// What a `ValidationError` thrown by a subcommand's `run()` prints: the message and that
  /// subcommand's usage. (`exit(withError:)` on the root knows only the root, so it would print
  /// `streamline <subcommand>`; errors thrown while parsing already carry their subcommand.)
  /// Nil for any other error, which prints as its own one line.
  static func failure(_ error: Error, in command: ParsableCommand.Type) -> String? {
    guard let validation = error as? ValidationError, command != Self.self else { return nil }
    let usage = usageString(for: command)
    let path = usage.split(separator: " ").prefix { $0.first?.isLetter == true }
    return """
      Error: \(validation.message)
      Usage: \(usage)
        See '\(path.joined(separator: " ")) --help' for more information.
      """
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
