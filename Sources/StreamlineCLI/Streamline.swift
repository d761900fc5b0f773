import ArgumentParser

@main
struct StreamlineCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "streamline",
    abstract: "Compress large language models by layer pruning and layer replacement.",
    subcommands: [
      Inspect.self, Analyze.self, Prune.self, Eval.self, Stability.self, Compare.self,
      TokenizeCommand.self, Bench.self,
    ])
}
