import ArgumentParser
import Foundation
import Tokenizers

/// `streamline tokenize`: ids (and tokens) of each input line.
struct TokenizeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tokenize",
    abstract: "Encode text with a model's tokenizer.json, one result per input line.")

  @Argument(help: "A model folder (tokenizer.json, tokenizer_config.json) or a tokenizer.json.")
  var model: String

  @Option(help: "Text to encode (each line separately).")
  var text: String?

  @Option(help: "A UTF-8 file to encode, line by line.")
  var file: String?

  @Flag(name: .customLong("no-special-tokens"), help: "Do not add BOS/EOS/CLS/SEP.")
  var noSpecialTokens = false

  @Flag(
    name: .customLong("plain-special-text"),
    help: "Encode special-token text in the input as ordinary text.")
  var plainSpecialText = false

  @Flag(help: "One JSON object per line: {\"ids\": [...], \"tokens\": [...]}.")
  var json = false

  func validate() throws {
    if (text == nil) == (file == nil) {
      throw ValidationError("give exactly one of --text or --file")
    }
  }

  func run() throws {
    let tokenizer = try Tokenizer.load(from: URL(fileURLWithPath: model))
    tokenizer.specialTokenTextIsPlain = plainSpecialText
    let input: String
    if let file {
      guard let data = FileManager.default.contents(atPath: file) else {
        throw ValidationError("\(file): cannot read")
      }
      guard let s = String(data: data, encoding: .utf8) else {
        throw ValidationError("\(file): not valid UTF-8")
      }
      input = s
    } else {
      input = text!
    }
    let out = LineWriter()
    for line in inputLines(input) {
      let ids = try tokenizer.encode(line, addSpecialTokens: !noSpecialTokens)
      if json {
        var s = "{\"ids\": [" + ids.map(String.init).joined(separator: ", ") + "], \"tokens\": ["
        s += ids.map { jsonString(tokenizer.idToToken($0) ?? "") }.joined(separator: ", ")
        s += "]}"
        out.write(s)
      } else {
        out.write(ids.map(String.init).joined(separator: " "))
      }
    }
    out.flush()
  }
}

/// Lines of the input: split at "\n", a trailing "\r" removed, no empty last line after a
/// final newline. Splits by Unicode scalars so "\r\n" is never treated as one Character.
func inputLines(_ s: String) -> [String] {
  var lines: [String] = []
  var current = String.UnicodeScalarView()
  for u in s.unicodeScalars {
    if u == "\n" {
      if current.last == "\r" { current.removeLast() }
      lines.append(String(current))
      current = String.UnicodeScalarView()
    } else {
      current.append(u)
    }
  }
  if !current.isEmpty || lines.isEmpty {
    if current.last == "\r" { current.removeLast() }
    lines.append(String(current))
  }
  return lines
}

/// A JSON string literal (UTF-8 kept, control characters escaped).
func jsonString(_ s: String) -> String {
  var out = "\""
  for u in s.unicodeScalars {
    switch u {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    case "\r": out += "\\r"
    case "\t": out += "\\t"
    default:
      if u.value < 0x20 || u.value == 0x7F {
        out += String(format: "\\u%04x", u.value)
      } else {
        out.unicodeScalars.append(u)
      }
    }
  }
  return out + "\""
}

/// Buffered writes to standard output.
final class LineWriter {
  private var buffer = Data()

  func write(_ line: String) {
    buffer.append(contentsOf: Array(line.utf8))
    buffer.append(0x0A)
    if buffer.count > 1 << 16 { flush() }
  }

  func flush() {
    FileHandle.standardOutput.write(buffer)
    buffer.removeAll(keepingCapacity: true)
  }
}
