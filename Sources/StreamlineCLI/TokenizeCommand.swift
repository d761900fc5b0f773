import ArgumentParser
import Checkpoint
import Evaluation
import Foundation
import Tokenizers

/// `streamline tokenize`: ids (and tokens) of each input line, of the whole input, or of each
/// JSONL record.
struct TokenizeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tokenize",
    abstract:
      "Encode text with a model's tokenizer.json: one result per input line, per JSONL record, or for the whole input."
  )

  @Argument(help: "A model folder (tokenizer.json, tokenizer_config.json) or a tokenizer.json.")
  var model: String

  @Option(help: "Text to encode (each line separately, unless --whole or --jsonl).")
  var text: String?

  @Option(help: "A UTF-8 file to encode, line by line (a .jsonl file: record by record).")
  var file: String?

  @Flag(help: "Encode the text or file as one string, line breaks included, as transformers does.")
  var whole = false

  @Flag(
    help:
      "The input is JSON Lines: each line {\"text\": ...} (or a JSON string) is encoded exactly; implied by a .jsonl --file."
  )
  var jsonl = false

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
    if whole && isJSONL {
      throw ValidationError("--whole encodes the input as one string; JSONL input is per record")
    }
  }

  var isJSONL: Bool { jsonl || (file?.hasSuffix(".jsonl") ?? false) }

  func run() throws {
    let tokenizer = try Tokenizer.load(from: URL(fileURLWithPath: model))
    tokenizer.specialTokenTextIsPlain = plainSpecialText
    let data: Data
    let path: String
    if let file {
      try InputFile.requireRegular(file)
      guard let contents = FileManager.default.contents(atPath: file) else {
        throw ValidationError("\(file): cannot read")
      }
      (data, path) = (contents, file)
    } else {
      (data, path) = (Data(text!.utf8), "--text")
    }
    let texts = try TokenizeInput.texts(data, path: path, whole: whole, jsonl: isJSONL)
    let out = LineWriter()
    for text in texts {
      let ids = try tokenizer.encode(text, addSpecialTokens: !noSpecialTokens)
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

/// Lines of the input as `tokenize` splits them (kept for `bench tokenize`).
func inputLines(_ s: String) -> [String] { TextLines.split(s) }
