import ArgumentParser

struct OutputOptions: ParsableArguments {
  @Flag(help: "Print one JSON object instead of a table.")
  var json = false
}

/// Results go to stdout.
func emit(_ text: String) {
  print(text)
}
