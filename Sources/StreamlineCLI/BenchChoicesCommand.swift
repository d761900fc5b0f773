import ArgumentParser
import Foundation
import Models
import Streamline
import Tensors

struct BenchChoices: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "choices",
    abstract: "Time 4-choice scoring on random weights: shared contexts vs full sequences.",
    discussion: """
      The same requests can be scored by lm-eval's Hugging Face backend with \
      tools/bench_choices_hf.py (same shape, same token ids) for the comparison against lm-eval.
      """)

  @Option(help: "A config.json giving the shape (default: TinyLlama-1.1B's).")
  var config: String?

  @Option(help: "Items in the task.")
  var items = 8

  @Option(help: "Choices per item.")
  var choices = 4

  @Option(name: .customLong("context-tokens"), help: "Context length (HellaSwag: about 60).")
  var contextTokens = 64

  @Option(name: .customLong("continuation-tokens"), help: "Tokens per choice (HellaSwag: ~25).")
  var continuationTokens = 24

  @Option(help: "f32 or bf16.")
  var precision: Precision = .f32

  @OptionGroup var output: OutputOptions

  func validate() throws {
    guard items > 0, choices > 0, contextTokens > 0, continuationTokens > 0 else {
      throw ValidationError("--items, --choices and the token counts must be positive")
    }
    // Upper bounds too: their products size the benchmark's batches.
    try checkCount(items, "--items", in: 1...(1 << 20))
    try checkCount(choices, "--choices", in: 1...(1 << 10))
    try checkCount(contextTokens, "--context-tokens", in: 1...(1 << 20))
    try checkCount(continuationTokens, "--continuation-tokens", in: 1...(1 << 20))
  }

  func run() throws {
    let result = try ChoiceBenchmark.run(
      config: try benchmarkShape(config), precision: precision.announced,
      items: items, choices: choices, contextTokens: contextTokens,
      continuationTokens: continuationTokens, progress: Progress("scoring", unit: "items"))
    emit(output.json ? try Format.json(result) : result.text)
  }
}
