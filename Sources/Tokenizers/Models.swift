import Foundation

/// The `model` of tokenizer.json: turns one pre-tokenized word into ids.
protocol TokenizerModel: AnyObject {
  var vocabulary: Vocabulary { get }
  func tokenize(_ word: [UInt32], into out: inout [Int32]) throws
}

extension Loader {
  func model(_ j: JSON?) throws -> TokenizerModel {
    guard let j, j.objectValue != nil else {
      throw TokenizerError.invalidField(path: path, field: "model", reason: "expected an object")
    }
    var type = j["type"]?.stringValue
    if type == nil {
      // Files written by old versions omit the type; serde then tries each model in turn.
      if j["merges"] != nil {
        type = "BPE"
      } else if j["vocab"]?.arrayValue != nil {
        type = "Unigram"
      } else if j["continuing_subword_prefix"] != nil || j["max_input_chars_per_word"] != nil {
        type = "WordPiece"
      } else {
        type = "WordLevel"
      }
    }
    switch type! {
    case "BPE": return try BPEModel(self, j)
    case "WordPiece": return try WordPieceModel(self, j)
    case "WordLevel": return try WordLevelModel(self, j)
    case "Unigram":
      throw TokenizerError.unsupported(
        path: path,
        feature: "Unigram model (SentencePiece unigram tokenizers are not supported yet)")
    default:
      throw TokenizerError.unsupported(path: path, feature: "model type '\(type!)'")
    }
  }
}

/// Greedy longest-match-first WordPiece, as BERT.
final class WordPieceModel: TokenizerModel {
  let vocabulary: Vocabulary
  let unk: [UInt32]
  let unkId: Int32?
  let prefix: [UInt32]
  let maxChars: Int
  let path: String

  init(_ l: Loader, _ j: JSON) throws {
    path = l.path
    vocabulary = try l.vocabulary(j["vocab"], field: "model.vocab")
    unk = scalarsOf(j["unk_token"]?.stringValue ?? "[UNK]")
    unkId = vocabulary.id(unk)
    prefix = scalarsOf(j["continuing_subword_prefix"]?.stringValue ?? "##")
    maxChars =
      try l.integer(
        j["max_input_chars_per_word"], field: "model.max_input_chars_per_word",
        in: 0...Loader.maximumLength) ?? 100
  }

  func unkOrThrow() throws -> Int32 {
    guard let u = unkId else {
      throw TokenizerError.missingToken(
        path: path, token: stringFrom(scalars: unk), reason: "WordPiece needs its unk_token")
    }
    return u
  }

  func tokenize(_ word: [UInt32], into out: inout [Int32]) throws {
    if word.isEmpty { return }
    if word.count > maxChars {
      out.append(try unkOrThrow())
      return
    }
    var pieces: [Int32] = []
    var start = 0
    var key: [UInt32] = []
    while start < word.count {
      var end = word.count
      var found: Int32?
      while start < end {
        key.removeAll(keepingCapacity: true)
        if start > 0 { key.append(contentsOf: prefix) }
        key.append(contentsOf: word[start..<end])
        if let id = vocabulary.id(key) {
          found = id
          break
        }
        end -= 1
      }
      guard let id = found else {
        out.append(try unkOrThrow())
        return
      }
      pieces.append(id)
      start = end
    }
    out.append(contentsOf: pieces)
  }
}

/// Whole-word lookup.
final class WordLevelModel: TokenizerModel {
  let vocabulary: Vocabulary
  let unk: [UInt32]
  let path: String

  init(_ l: Loader, _ j: JSON) throws {
    path = l.path
    vocabulary = try l.vocabulary(j["vocab"], field: "model.vocab")
    unk = scalarsOf(j["unk_token"]?.stringValue ?? "<unk>")
  }

  func tokenize(_ word: [UInt32], into out: inout [Int32]) throws {
    if let id = vocabulary.id(word) {
      out.append(id)
    } else if let u = vocabulary.id(unk) {
      out.append(u)
    } else {
      throw TokenizerError.missingToken(
        path: path, token: stringFrom(scalars: unk), reason: "WordLevel needs its unk_token")
    }
  }
}
