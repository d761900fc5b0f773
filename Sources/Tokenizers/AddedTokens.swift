import Foundation

/// An entry of `added_tokens` in tokenizer.json.
struct AddedToken: Equatable {
  var content: [UInt32]
  var special: Bool
  var singleWord: Bool
  var lstrip: Bool
  var rstrip: Bool
  var normalized: Bool
}

/// Finds added tokens in text before the model runs, with the Rust `AddedVocabulary`
/// semantics: non-normalized tokens are matched in the raw input, normalized ones in each
/// normalized remaining piece; leftmost-longest matching; `single_word`, `lstrip`, `rstrip`.
final class AddedVocabulary {
  private(set) var byContent: [ScalarKey: Int32] = [:]
  private(set) var byId: [Int32: AddedToken] = [:]
  private(set) var specialContents: Set<ScalarKey> = []
  /// Normalized content of normalized tokens whose normalization changes them.
  private(set) var normalizedCache: [Int32: [UInt32]] = [:]
  private var rawTrie = TokenTrie()
  private var normalizedTrie = TokenTrie()

  var isEmpty: Bool { byId.isEmpty }

  /// `AddedVocabulary::add_tokens`: ids come from the vocabulary (added tokens first, then the
  /// model), or are assigned after the largest one; the ids written in the file are not used.
  func add(_ tokens: [AddedToken], model: Vocabulary, normalizer: Normalizer?) {
    var nextId: Int32
    if let maxId = byId.keys.max() {
      nextId = (Int(maxId) >= model.count || model.count == 0) ? maxId + 1 : Int32(model.count)
    } else {
      nextId = Int32(model.count)
    }
    for t in tokens {
      if t.content.isEmpty { continue }
      let key = ScalarKey(t.content)
      if let id = byContent[key], byId[id] == t { continue }
      let newId: Int32
      if let id = byContent[key] ?? model.id(t.content) {
        newId = id
      } else {
        newId = nextId
        nextId += 1
      }
      if t.normalized, let n = normalizer {
        let normed = n.normalize(t.content)
        if normed != t.content { normalizedCache[newId] = normed }
      }
      byContent[key] = newId
      if t.special { specialContents.insert(key) }
      byId[newId] = t
    }
    var raw: [([UInt32], Int32)] = []
    var norm: [([UInt32], Int32)] = []
    for (id, t) in byId {
      if t.normalized {
        norm.append((normalizedCache[id] ?? t.content, id))
      } else {
        raw.append((t.content, id))
      }
    }
    rawTrie = TokenTrie(raw)
    normalizedTrie = TokenTrie(norm)
  }

  /// `simple_id_to_token`: the normalized form for normalized tokens.
  func token(for id: Int32) -> [UInt32]? {
    guard let t = byId[id] else { return nil }
    return normalizedCache[id] ?? t.content
  }

  func isSpecial(_ token: [UInt32]) -> Bool { specialContents.contains(ScalarKey(token)) }

  /// `extract_and_normalize`: split out added tokens, normalizing the rest.
  func extractAndNormalize(
    _ text: [UInt32], normalizer: Normalizer?, plainSpecialText: Bool
  ) -> [Piece] {
    var first: [Piece] = []
    split(
      Piece(s: text, atStart: true), trie: rawTrie, plainSpecialText: plainSpecialText,
      into: &first)
    var out: [Piece] = []
    out.reserveCapacity(first.count)
    for var p in first {
      if p.id != nil {
        out.append(p)
        continue
      }
      if let n = normalizer { p.s = n.normalize(p.s) }
      split(p, trie: normalizedTrie, plainSpecialText: plainSpecialText, into: &out)
    }
    return out
  }

  private func split(
    _ piece: Piece, trie: TokenTrie, plainSpecialText: Bool, into out: inout [Piece]
  ) {
    let s = piece.s
    if s.isEmpty { return }
    if trie.isEmpty {
      out.append(piece)
      return
    }
    var startOffset = 0
    var pos = 0
    while let (mStart, mEnd, id) = trie.leftmostLongest(s, from: pos) {
      pos = mEnd
      var start = mStart
      var stop = mEnd
      let t = byId[id]!
      if plainSpecialText && t.special { continue }
      if t.singleWord {
        let startSpace = start == 0 || kind(s[start - 1]) & Kind.word == 0
        let stopSpace = stop == s.count || kind(s[stop]) & Kind.word == 0
        if !startSpace || !stopSpace { continue }
      }
      if t.lstrip {
        var newStart = start
        while newStart > 0 && isWhiteSpace(s[newStart - 1]) { newStart -= 1 }
        start = max(newStart, startOffset)
      }
      if t.rstrip {
        while stop < s.count && isWhiteSpace(s[stop]) { stop += 1 }
      }
      if startOffset < start {
        out.append(
          Piece(s: Array(s[startOffset..<start]), atStart: piece.atStart && startOffset == 0))
      }
      // `start` may precede `startOffset` after an rstrip overlap, as in the Rust code.
      let lo = min(start, stop)
      out.append(Piece(s: Array(s[lo..<stop]), id: id))
      startOffset = stop
    }
    if startOffset < s.count {
      out.append(
        Piece(s: Array(s[startOffset...]), atStart: piece.atStart && startOffset == 0))
    }
  }
}

/// Leftmost-longest multi-pattern search (what daachorse's `LeftmostLongest` gives).
struct TokenTrie {
  private var byFirst: [UInt32: [([UInt32], Int32)]] = [:]
  private var firstScalarsBMP: [Bool] = []

  init() {}

  init(_ patterns: [([UInt32], Int32)]) {
    for p in patterns where !p.0.isEmpty { byFirst[p.0[0], default: []].append(p) }
    for k in byFirst.keys {
      // Longest first, so the first hit at a position is the longest.
      byFirst[k]!.sort { $0.0.count > $1.0.count }
    }
    firstScalarsBMP = [Bool](repeating: false, count: 0x10000)
    for k in byFirst.keys where k < 0x10000 { firstScalarsBMP[Int(k)] = true }
  }

  var isEmpty: Bool { byFirst.isEmpty }

  func leftmostLongest(_ s: [UInt32], from: Int) -> (Int, Int, Int32)? {
    var i = from
    while i < s.count {
      let c = s[i]
      if c < 0x10000 && !firstScalarsBMP[Int(c)] {
        i += 1
        continue
      }
      if let cands = byFirst[c] {
        for (p, id) in cands where i + p.count <= s.count {
          var ok = true
          for j in 1..<p.count where s[i + j] != p[j] {
            ok = false
            break
          }
          if ok { return (i, i + p.count, id) }
        }
      }
      i += 1
    }
    return nil
  }
}

extension Loader {
  func addedTokens(_ j: JSON?) throws -> [AddedToken] {
    guard let j, !j.isNull else { return [] }
    guard let items = j.arrayValue else {
      throw TokenizerError.invalidField(
        path: path, field: "added_tokens", reason: "expected an array")
    }
    return try items.enumerated().map { n, t in
      guard let content = t["content"]?.bytesValue else {
        throw TokenizerError.invalidField(
          path: path, field: "added_tokens[\(n)].content", reason: "expected a string")
      }
      let special = t["special"]?.boolValue ?? false
      return AddedToken(
        content: decodeScalars(content), special: special,
        singleWord: t["single_word"]?.boolValue ?? false, lstrip: t["lstrip"]?.boolValue ?? false,
        rstrip: t["rstrip"]?.boolValue ?? false,
        normalized: t["normalized"]?.boolValue ?? !special)
    }
  }
}
