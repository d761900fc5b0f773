import Foundation

/// A piece of the input on its way to the model: either text still to be split, or an added
/// token already resolved to its id.
struct Piece {
  var s: [UInt32]
  var id: Int32? = nil
  /// The piece begins at offset 0 of the original input (Metaspace `prepend_scheme: first`).
  var atStart: Bool = false
}

/// A `pre_tokenizer` of tokenizer.json. Pieces that are added tokens pass through untouched.
protocol PreTokenizer {
  func preTokenize(_ pieces: [Piece]) -> [Piece]
}

/// `SplitDelimiterBehavior` of the Rust library.
enum SplitBehavior: String {
  case removed = "Removed"
  case isolated = "Isolated"
  case mergedWithPrevious = "MergedWithPrevious"
  case mergedWithNext = "MergedWithNext"
  case contiguous = "Contiguous"
}

/// `NormalizedString::split`: cut `piece` at the given matches according to `behavior`
/// (with `invert`, the gaps between matches are the delimiters); empty pieces are dropped.
func splitPiece(
  _ piece: Piece, matches: [Range<Int>], behavior: SplitBehavior, invert: Bool = false,
  into out: inout [Piece]
) {
  let n = piece.s.count
  var marked: [(Range<Int>, Bool)] = []
  if n == 0 {
    marked = [(0..<0, false)]
  } else {
    marked.reserveCapacity(matches.count * 2 + 1)
    var prev = 0
    for m in matches {
      if prev != m.lowerBound { marked.append((prev..<m.lowerBound, invert)) }
      marked.append((m, !invert))
      prev = m.upperBound
    }
    if prev != n { marked.append((prev..<n, invert)) }
  }
  var splits: [(Range<Int>, Bool)] = []  // (range, remove)
  switch behavior {
  case .isolated:
    splits = marked.map { ($0.0, false) }
  case .removed:
    splits = marked
  case .contiguous:
    var previous = false
    for (r, isMatch) in marked {
      if isMatch == previous, let last = splits.last {
        splits[splits.count - 1] = (last.0.lowerBound..<r.upperBound, false)
      } else {
        splits.append((r, false))
      }
      previous = isMatch
    }
  case .mergedWithPrevious:
    var previous = false
    for (r, isMatch) in marked {
      if isMatch && !previous, let last = splits.last {
        splits[splits.count - 1] = (last.0.lowerBound..<r.upperBound, false)
      } else {
        splits.append((r, false))
      }
      previous = isMatch
    }
  case .mergedWithNext:
    var previous = false
    for (r, isMatch) in marked.reversed() {
      if isMatch && !previous, let last = splits.last {
        splits[splits.count - 1] = (r.lowerBound..<last.0.upperBound, false)
      } else {
        splits.append((r, false))
      }
      previous = isMatch
    }
    splits.reverse()
  }
  for (r, remove) in splits where !remove && !r.isEmpty {
    out.append(Piece(s: Array(piece.s[r]), atStart: piece.atStart && r.lowerBound == 0))
  }
}

extension PreTokenizer {
  /// Apply `body` to every piece that is still text.
  func eachTextPiece(_ pieces: [Piece], _ body: (Piece, inout [Piece]) -> Void) -> [Piece] {
    var out: [Piece] = []
    out.reserveCapacity(pieces.count * 4)
    for p in pieces {
      if p.id != nil {
        out.append(p)
      } else {
        body(p, &out)
      }
    }
    return out
  }
}

struct SplitPreTokenizer: PreTokenizer {
  let matcher: PatternMatcher
  let behavior: SplitBehavior
  let invert: Bool
  func preTokenize(_ pieces: [Piece]) -> [Piece] {
    eachTextPiece(pieces) { p, out in
      let ms = p.s.withUnsafeBufferPointer { matcher.matches(in: $0) }
      if !invert && behavior == .isolated {
        // Fast path for the common regex split: every match and every gap is a piece.
        var prev = 0
        for m in ms {
          if prev < m.lowerBound {
            out.append(Piece(s: Array(p.s[prev..<m.lowerBound]), atStart: p.atStart && prev == 0))
          }
          if !m.isEmpty {
            out.append(
              Piece(s: Array(p.s[m]), atStart: p.atStart && m.lowerBound == 0))
          }
          prev = m.upperBound
        }
        if prev < p.s.count {
          out.append(Piece(s: Array(p.s[prev...]), atStart: p.atStart && prev == 0))
        }
        return
      }
      splitPiece(p, matches: ms, behavior: behavior, invert: invert, into: &out)
    }
  }
}

/// The 256 byte-level characters of GPT-2: printable Latin-1 bytes map to themselves, the
/// others to U+0100 onwards in byte order.
let byteLevelChars: [UInt32] = {
  var table = [UInt32](repeating: 0, count: 256)
  var n: UInt32 = 0
  for b in 0..<256 {
    if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
      table[b] = UInt32(b)
    } else {
      table[b] = 256 + n
      n += 1
    }
  }
  return table
}()

/// Inverse of `byteLevelChars` (nil for scalars that are not byte-level characters).
let byteLevelBytes: [UInt32: UInt8] = {
  var d: [UInt32: UInt8] = [:]
  for (b, c) in byteLevelChars.enumerated() { d[c] = UInt8(b) }
  return d
}()

func byteLevelEncode(_ s: [UInt32]) -> [UInt32] {
  var out: [UInt32] = []
  out.reserveCapacity(s.count + 4)
  byteLevelChars.withUnsafeBufferPointer { t in
    for c in s {
      if c < 0x80 {
        out.append(t[Int(c)])
      } else if c < 0x800 {
        out.append(t[Int(0xC0 | (c >> 6))])
        out.append(t[Int(0x80 | (c & 0x3F))])
      } else if c < 0x10000 {
        out.append(t[Int(0xE0 | (c >> 12))])
        out.append(t[Int(0x80 | ((c >> 6) & 0x3F))])
        out.append(t[Int(0x80 | (c & 0x3F))])
      } else {
        out.append(t[Int(0xF0 | (c >> 18))])
        out.append(t[Int(0x80 | ((c >> 12) & 0x3F))])
        out.append(t[Int(0x80 | ((c >> 6) & 0x3F))])
        out.append(t[Int(0x80 | (c & 0x3F))])
      }
    }
  }
  return out
}

struct ByteLevelPreTokenizer: PreTokenizer {
  let addPrefixSpace: Bool
  let useRegex: Bool
  static let regex = GPT2Matcher()

  func preTokenize(_ pieces: [Piece]) -> [Piece] {
    eachTextPiece(pieces) { p0, out in
      var p = p0
      if addPrefixSpace && !p.s.isEmpty && p.s.first != 0x20 { p.s.insert(0x20, at: 0) }
      if useRegex {
        let ms = p.s.withUnsafeBufferPointer { ByteLevelPreTokenizer.regex.matches(in: $0) }
        for m in ms where !m.isEmpty {
          out.append(
            Piece(s: byteLevelEncode(Array(p.s[m])), atStart: p.atStart && m.lowerBound == 0))
        }
      } else {
        out.append(Piece(s: byteLevelEncode(p.s), atStart: p.atStart))
      }
    }
  }
}

enum PrependScheme: String {
  case first, always, never
}

struct MetaspacePreTokenizer: PreTokenizer {
  let replacement: UInt32
  let prependScheme: PrependScheme
  let split: Bool

  func preTokenize(_ pieces: [Piece]) -> [Piece] {
    eachTextPiece(pieces) { p0, out in
      var p = p0
      for i in p.s.indices where p.s[i] == 0x20 { p.s[i] = replacement }
      switch prependScheme {
      case .always:
        if !p.s.isEmpty && p.s.first != replacement { p.s.insert(replacement, at: 0) }
      case .first:
        if !p.s.isEmpty && p.s.first != replacement && p.atStart {
          p.s.insert(replacement, at: 0)
        }
      case .never:
        break
      }
      if split {
        var ms: [Range<Int>] = []
        for i in p.s.indices where p.s[i] == replacement { ms.append(i..<(i + 1)) }
        splitPiece(p, matches: ms, behavior: .mergedWithNext, into: &out)
      } else if !p.s.isEmpty {
        out.append(p)
      }
    }
  }
}

/// Splits on a per-scalar predicate with a behaviour (WhitespaceSplit, Punctuation, Digits,
/// CharDelimiterSplit, the two steps of BertPreTokenizer).
struct PredicateSplitPreTokenizer: PreTokenizer {
  let test: (UInt32) -> Bool
  let behavior: SplitBehavior
  func preTokenize(_ pieces: [Piece]) -> [Piece] {
    eachTextPiece(pieces) { p, out in
      var ms: [Range<Int>] = []
      for i in p.s.indices where test(p.s[i]) { ms.append(i..<(i + 1)) }
      if ms.isEmpty {
        if !p.s.isEmpty { out.append(p) }
        return
      }
      splitPiece(p, matches: ms, behavior: behavior, into: &out)
    }
  }
}

/// `Whitespace`: the Rust `regex` crate's `\w+|[^\w\s]+`, keeping matches and dropping gaps.
struct WhitespacePreTokenizer: PreTokenizer {
  func preTokenize(_ pieces: [Piece]) -> [Piece] {
    eachTextPiece(pieces) { p, out in
      let s = p.s
      var i = 0
      while i < s.count {
        let k = kind(s[i])
        if k & Kind.space != 0 && k & Kind.word == 0 {
          i += 1
          continue
        }
        let isWord = k & Kind.word != 0
        let start = i
        i += 1
        while i < s.count {
          let k2 = kind(s[i])
          if isWord ? (k2 & Kind.word == 0) : (k2 & (Kind.word | Kind.space) != 0) { break }
          i += 1
        }
        out.append(Piece(s: Array(s[start..<i]), atStart: p.atStart && start == 0))
      }
    }
  }
}

struct SequencePreTokenizer: PreTokenizer {
  let items: [PreTokenizer]
  func preTokenize(_ pieces: [Piece]) -> [Piece] {
    var p = pieces
    for t in items { p = t.preTokenize(p) }
    return p
  }
}

@inline(__always) func isNumeric(_ c: UInt32) -> Bool { kind(c) & Kind.numeric != 0 }
@inline(__always) func isPunct(_ c: UInt32) -> Bool { kind(c) & Kind.punct != 0 }

extension Loader {
  func behavior(_ j: JSON, _ field: String, default def: SplitBehavior) throws -> SplitBehavior {
    guard let v = j["behavior"], !v.isNull else { return def }
    guard let s = v.stringValue, let b = SplitBehavior(rawValue: s) else {
      throw TokenizerError.invalidField(
        path: path, field: field + ".behavior", reason: "unknown split behavior")
    }
    return b
  }

  func preTokenizer(_ j: JSON?, field: String = "pre_tokenizer") throws -> PreTokenizer? {
    guard let j, !j.isNull else { return nil }
    let type = try requireString(j, "type", field)
    switch type {
    case "ByteLevel":
      return ByteLevelPreTokenizer(
        addPrefixSpace: j["add_prefix_space"]?.boolValue ?? true,
        useRegex: j["use_regex"]?.boolValue ?? true)
    case "Split":
      return SplitPreTokenizer(
        matcher: try patternMatcher(j["pattern"], field: field + ".pattern"),
        behavior: try behavior(j, field, default: .isolated),
        invert: j["invert"]?.boolValue ?? false)
    case "Metaspace":
      let rep = scalarsOf(j["replacement"]?.stringValue ?? "\u{2581}")
      guard rep.count == 1 else {
        throw TokenizerError.invalidField(
          path: path, field: field + ".replacement", reason: "expected one character")
      }
      var scheme = PrependScheme.always
      if let s = j["prepend_scheme"]?.stringValue {
        guard let ps = PrependScheme(rawValue: s) else {
          throw TokenizerError.invalidField(
            path: path, field: field + ".prepend_scheme", reason: "unknown scheme '\(s)'")
        }
        scheme = ps
      } else if let add = j["add_prefix_space"]?.boolValue {
        scheme = add ? .always : .never
      }
      return MetaspacePreTokenizer(
        replacement: rep[0], prependScheme: scheme, split: j["split"]?.boolValue ?? true)
    case "Whitespace":
      return WhitespacePreTokenizer()
    case "WhitespaceSplit":
      return PredicateSplitPreTokenizer(test: isWhiteSpace, behavior: .removed)
    case "BertPreTokenizer":
      return SequencePreTokenizer(items: [
        PredicateSplitPreTokenizer(test: isWhiteSpace, behavior: .removed),
        PredicateSplitPreTokenizer(test: isPunct, behavior: .isolated),
      ])
    case "Punctuation":
      return PredicateSplitPreTokenizer(
        test: isPunct, behavior: try behavior(j, field, default: .isolated))
    case "Digits":
      let individual = j["individual_digits"]?.boolValue ?? false
      return PredicateSplitPreTokenizer(
        test: isNumeric, behavior: individual ? .isolated : .contiguous)
    case "CharDelimiterSplit":
      let d = scalarsOf(j["delimiter"]?.stringValue ?? "")
      guard d.count == 1 else {
        throw TokenizerError.invalidField(
          path: path, field: field + ".delimiter", reason: "expected one character")
      }
      return PredicateSplitPreTokenizer(test: { $0 == d[0] }, behavior: .removed)
    case "Sequence":
      guard let items = j["pretokenizers"]?.arrayValue else {
        throw TokenizerError.invalidField(
          path: path, field: field + ".pretokenizers", reason: "expected an array")
      }
      return SequencePreTokenizer(
        items: try items.enumerated().compactMap {
          try preTokenizer($0.element, field: "\(field).pretokenizers[\($0.offset)]")
        })
    default:
      throw TokenizerError.unsupported(path: path, feature: "pre-tokenizer type '\(type)'")
    }
  }
}
