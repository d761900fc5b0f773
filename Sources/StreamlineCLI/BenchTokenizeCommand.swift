import ArgumentParser
import Checkpoint
import Foundation
import Tokenizers

/// `streamline bench tokenize`: encoding throughput beside Python `tokenizers` on the same
/// text, measured in the same run.
struct BenchTokenize: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tokenize",
    abstract: "Encode a few MB of text; compare with Python tokenizers single-threaded.")

  @Argument(help: "A model folder or a tokenizer.json.")
  var model: String

  @Option(help: "UTF-8 text to encode line by line (default: generated text).")
  var file: String?

  @Option(help: "Megabytes of generated text when no --file is given.")
  var megabytes: Double = 4

  @Option(help: "Python with the `tokenizers` package, for the reference measurement.")
  var python = "python3"

  @Option(help: "The reference script.")
  var script = "tools/bench_tokenizers.py"

  @Flag(name: .customLong("no-reference"), help: "Skip the Python measurement.")
  var noReference = false

  @Option(help: "Timed repetitions (the best is reported).")
  var repeats = 3

  func validate() throws {
    guard megabytes > 0, megabytes <= 1024, repeats > 0 else {
      throw ValidationError("--megabytes must be in (0, 1024] and --repeats positive")
    }
    try checkCount(repeats, "--repeats", in: 1...1000)
  }

  func run() throws {
    let tokenizer = try Tokenizer.load(from: URL(fileURLWithPath: model))
    var textFile = file
    var cleanup: URL?
    var cleanupID: Int?
    let text: String
    if let file {
      guard let data = FileManager.default.contents(atPath: file),
        let s = String(data: data, encoding: .utf8)
      else { throw ValidationError("\(file): cannot read as UTF-8") }
      text = s
    } else {
      text = generatedText(bytes: Int(megabytes * 1_000_000))
      let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("streamline-bench-\(getpid()).txt")
      // Removed on an interrupt too; a failed write is one line naming the file.
      cleanupID = CleanupRegistry.shared.register { unlink(url.path) }
      cleanup = url
      try OutputFolder.write(Data(text.utf8), to: url)
      textFile = url.path
    }
    defer {
      if let cleanup { try? FileManager.default.removeItem(at: cleanup) }
      if let cleanupID { CleanupRegistry.shared.unregister(cleanupID) }
    }
    let lines = inputLines(text)
    let bytes = lines.reduce(0) { $0 + $1.utf8.count }

    _ = try lines.prefix(100).map { try tokenizer.encodeIds($0) }  // warm-up
    var best = Double.infinity
    var tokens = 0
    for _ in 0..<repeats {
      let t0 = DispatchTime.now().uptimeNanoseconds
      var n = 0
      for l in lines { n += try tokenizer.encodeIds(l).count }
      let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
      if dt < best {
        best = dt
        tokens = n
      }
    }
    let swiftMBs = Double(bytes) / best / 1e6
    print(
      String(
        format: "swift   %8.2f MB/s  (%d bytes, %d lines, %d tokens, %.3f s, single thread)",
        swiftMBs, bytes, lines.count, tokens, best))

    guard !noReference else { return }
    guard FileManager.default.fileExists(atPath: script) else {
      print("python  unavailable (no \(script))")
      return
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [python, script, "--tokenizer", model, "--file", textFile!]
    let pipe = Pipe()
    p.standardOutput = pipe
    do {
      try p.run()
    } catch {
      print("python  unavailable (\(error))")
      return
    }
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0,
      let obj = try? JSONSerialization.jsonObject(with: out) as? [String: Any],
      let mbs = obj["mb_per_s"] as? Double
    else {
      print("python  unavailable (\(String(decoding: out, as: UTF8.self)))")
      return
    }
    let pyTokens = obj["tokens"] as? Int ?? -1
    let mode = obj["mode"] as? String ?? "?"
    print(String(format: "python  %8.2f MB/s  (%@, single thread, %d tokens)", mbs, mode, pyTokens))
    print(String(format: "ratio   %8.2f x", swiftMBs / mbs))
    if pyTokens != tokens {
      print("warning: token counts differ (swift \(tokens), python \(pyTokens))")
    }
  }
}

/// Deterministic mixed text: English-like prose with numbers, punctuation, code, some
/// accented, CJK and emoji lines.
func generatedText(bytes: Int) -> String {
  let words = """
    the of and to in is that for it as was with be by on not he this are or his from at which \
    but have an they you were her she there been one all we their has would when if so no will \
    model layer token compression language residual network training calibration similarity \
    don't can't it's we're they've I'll she'd Transformer Llama GPT attention embedding
    """.split(separator: " ").map(String.init)
  let extras = [
    "naïve café résumé", "日本語のテキスト", "中文文本，包括标点", "Привет, мир!", "emoji 😀👍🏽",
    "x = f(y) + 42;", "https://example.com/a?b=1", "3.14159 1,000,000 2024-05-01",
  ]
  var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
  func next() -> Int {
    rng ^= rng << 13
    rng ^= rng >> 7
    rng ^= rng << 17
    return Int(rng >> 1)
  }
  var out = ""
  out.reserveCapacity(bytes + 200)
  var line = ""
  while out.utf8.count < bytes {
    let r = next() % 100
    if r < 88 {
      line += (line.isEmpty ? "" : " ") + words[next() % words.count]
    } else if r < 93 {
      line += ", "
    } else if r < 96 {
      line += " " + extras[next() % extras.count]
    } else {
      line += ". "
    }
    if line.utf8.count > 60 + next() % 140 {
      out += line + "\n"
      line = ""
    }
  }
  return out
}
