import Foundation

/// A tokenizer as llama.cpp's GGUF metadata holds it (`tokenizer.ggml.*`), made the way
/// convert_hf_to_gguf makes it from the same tokenizer.json:
///
/// - byte-level BPE (GPT-2, Llama 3, Qwen, SmolLM) is llama.cpp's `gpt2` model: every id's token
///   string, the merges in rank order (`"a b"`, spaces inside a token written as U+0120 as the
///   converter does), token types NORMAL, CONTROL for special added tokens, USER_DEFINED for
///   other added tokens, UNUSED (`[PADn]`) for ids the tokenizer does not have;
/// - SentencePiece-style BPE with byte fallback (Llama 2, Mistral, Gemma) is llama.cpp's `llama`
///   model: tokens as they are, `<0xXX>` tokens typed BYTE, and scores that rank the merges
///   (llama.cpp's SPM tokenizer merges the highest score first).
///
/// WordPiece, WordLevel and BPE with other options are refused with the reason.
public struct GGUFVocabulary: Sendable, Equatable {
  /// llama.cpp's `llama_token_type`.
  public enum TokenType: Int32, Sendable {
    case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
  }

  /// `tokenizer.ggml.model`: "gpt2" or "llama".
  public var model: String
  public var tokens: [String]
  public var tokenTypes: [TokenType]
  /// `tokenizer.ggml.scores` (the `llama` model only).
  public var scores: [Float]?
  /// `tokenizer.ggml.merges` (the `gpt2` model only).
  public var merges: [String]?
  /// Whether the tokenizer puts "▁" before the text (SentencePiece's dummy prefix; llama.cpp's
  /// `tokenizer.ggml.add_space_prefix`, true unless written otherwise). Nil for `gpt2`.
  public var addSpacePrefix: Bool?
}

extension Tokenizer {
  /// The GGUF form of this tokenizer, for a model whose embedding has `vocabularySize` rows
  /// (ids the tokenizer does not have are `[PADn]`, UNUSED). Reads the merges again from the
  /// tokenizer.json at `path`.
  public func ggufVocabulary(vocabularySize size: Int) throws -> GGUFVocabulary {
    guard let bpe = model as? BPEModel else {
      throw TokenizerError.unsupported(
        path: path,
        feature:
          "a GGUF export of a \(type(of: model)) tokenizer (llama.cpp's converter reads byte-level BPE as gpt2 and SentencePiece BPE as llama; this tokenizer is neither)"
      )
    }
    guard bpe.prefix?.isEmpty ?? true, bpe.suffix?.isEmpty ?? true else {
      throw TokenizerError.unsupported(
        path: path,
        feature:
          "a GGUF export of BPE with continuing_subword_prefix or end_of_word_suffix (llama.cpp has no such BPE)"
      )
    }
    let largest = max(
      bpe.vocabulary.count - 1, added.byId.keys.map { Int($0) }.max() ?? -1)
    guard largest < size else {
      throw TokenizerError.invalidField(
        path: path, field: "model.vocab",
        reason: "token id \(largest) does not fit the model's \(size) embedding rows")
    }
    var tokens: [String] = []
    var types: [GGUFVocabulary.TokenType] = []
    tokens.reserveCapacity(size)
    types.reserveCapacity(size)
    let spm = bpe.byteFallback
    for id in 0..<size {
      if let token = added.byId[Int32(id)] {
        let text = stringFrom(scalars: token.content)
        let looksSpecial =
          ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].contains(text)
          || (text.hasPrefix("<unused") && text.hasSuffix(">"))
        tokens.append(text)
        types.append(token.special || looksSpecial ? .control : .userDefined)
      } else if let token = bpe.vocabulary.token(Int32(id)) {
        let text = stringFrom(scalars: token)
        tokens.append(text)
        if spm && text.utf8.count == 6 && text.hasPrefix("<0x") && text.hasSuffix(">") {
          types.append(.byte)
        } else if spm && Int32(id) == bpe.unkId {
          types.append(.unknown)
        } else {
          types.append(.normal)
        }
      } else {
        tokens.append("[PAD\(id)]")
        types.append(.unused)
      }
    }
    let merges = try mergeStrings()
    if spm {
      // llama.cpp's SPM tokenizer merges the pair whose result scores highest: give each
      // merge's result a score that falls with its rank, every other token the lowest.
      var scores = [Float](repeating: -1e9, count: size)
      for (rank, merge) in merges.enumerated() {
        let merged = merge.replacingOccurrences(of: " ", with: "")
        if let id = bpe.vocabulary.id(scalarsOf(merged)), scores[Int(id)] == -1e9 {
          scores[Int(id)] = -Float(rank)
        }
      }
      for id in 0..<size where types[id] != .normal { scores[id] = 0 }
      // Whether "a" encodes to a piece that starts with the SentencePiece space.
      let first = try encode("a", addSpecialTokens: false).first.flatMap { idToToken($0) }
      return GGUFVocabulary(
        model: "llama", tokens: tokens, tokenTypes: types, scores: scores, merges: nil,
        addSpacePrefix: first?.hasPrefix("\u{2581}") ?? false)
    }
    return GGUFVocabulary(
      model: "gpt2", tokens: tokens, tokenTypes: types, scores: nil, merges: merges)
  }

  /// model.merges of the tokenizer.json as llama.cpp's gguf package writes them.
  public func mergeStrings() throws -> [String] {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw TokenizerError.fileNotFound(path: path)
    }
    let json = try JSON.parse(data)
    guard let list = json["model"]?["merges"]?.arrayValue else { return [] }
    var out: [String] = []
    out.reserveCapacity(list.count)
    for m in list {
      if let bytes = m.bytesValue {
        if bytes.starts(with: Array("#version".utf8)) { continue }
        out.append(String(decoding: bytes, as: UTF8.self))
      } else if let pair = m.arrayValue, pair.count == 2, let a = pair[0].bytesValue,
        let b = pair[1].bytesValue
      {
        // Spaces inside a token become U+0120, as gguf's SpecialVocab writes them.
        func escaped(_ bytes: [UInt8]) -> String {
          String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: " ", with: "\u{120}")
        }
        out.append(escaped(a) + " " + escaped(b))
      }
    }
    return out
  }
}
