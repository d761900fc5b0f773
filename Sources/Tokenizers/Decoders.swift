import Foundation

/// A `decoder` of tokenizer.json: `decode_chain` over token strings (as scalars); the result
/// is the concatenation of what the chain returns.
protocol Decoder {
  func decodeChain(_ tokens: [[UInt32]]) -> [[UInt32]]
}

struct ByteLevelDecoder: Decoder {
  func decodeChain(_ tokens: [[UInt32]]) -> [[UInt32]] {
    var bytes: [UInt8] = []
    for t in tokens {
      var tb: [UInt8] = []
      tb.reserveCapacity(t.count)
      var ok = true
      for c in t {
        guard let b = byteLevelBytes[c] else {
          ok = false
          break
        }
        tb.append(b)
      }
      if ok { bytes.append(contentsOf: tb) } else { bytes.append(contentsOf: encodeUTF8(t)) }
    }
    return [scalarsOf(String(decoding: bytes, as: UTF8.self))]
  }
}

struct MetaspaceDecoder: Decoder {
  let replacement: UInt32
  let prependScheme: PrependScheme
  func decodeChain(_ tokens: [[UInt32]]) -> [[UInt32]] {
    tokens.enumerated().map { i, t in
      t.compactMap { c -> UInt32? in
        if c == replacement { return i == 0 && prependScheme != .never ? nil : 0x20 }
        return c
      }
    }
  }
}

struct ByteFallbackDecoder: Decoder {
  static func byteValue(_ t: [UInt32]) -> UInt8? {
    // `token.len() == 6 && starts_with("<0x") && ends_with('>')`, then u8::from_str_radix.
    guard t.count == 6, t[0] == 0x3C, t[1] == 0x30, t[2] == 0x78, t[5] == 0x3E else { return nil }
    func hex(_ c: UInt32) -> UInt8? {
      switch c {
      case 0x30...0x39: return UInt8(c - 0x30)
      case 0x41...0x46: return UInt8(c - 0x41 + 10)
      case 0x61...0x66: return UInt8(c - 0x61 + 10)
      default: return nil
      }
    }
    if t[3] == 0x2B, let lo = hex(t[4]) { return lo }  // from_str_radix accepts a '+'
    guard let hi = hex(t[3]), let lo = hex(t[4]) else { return nil }
    return hi << 4 | lo
  }

  func decodeChain(_ tokens: [[UInt32]]) -> [[UInt32]] {
    var out: [[UInt32]] = []
    var pending: [UInt8] = []
    func flush() {
      if pending.isEmpty { return }
      if let s = strictUTF8(pending) {
        out.append(s)
      } else {
        for _ in pending { out.append([0xFFFD]) }
      }
      pending.removeAll()
    }
    for t in tokens {
      if let b = ByteFallbackDecoder.byteValue(t) {
        pending.append(b)
      } else {
        flush()
        out.append(t)
      }
    }
    flush()
    return out
  }
}

/// Strict UTF-8 decoding (nil on any invalid sequence).
func strictUTF8(_ bytes: [UInt8]) -> [UInt32]? {
  var out: [UInt32] = []
  var it = bytes.makeIterator()
  var dec = UTF8()
  while true {
    switch dec.decode(&it) {
    case .scalarValue(let s): out.append(s.value)
    case .emptyInput: return out
    case .error: return nil
    }
  }
}

struct FuseDecoder: Decoder {
  func decodeChain(_ tokens: [[UInt32]]) -> [[UInt32]] { [tokens.flatMap { $0 }] }
}

struct StripDecoder: Decoder {
  let content: UInt32
  let start: Int
  let stop: Int
  func decodeChain(_ tokens: [[UInt32]]) -> [[UInt32]] {
    tokens.map { t in
      var a = 0
      for i in 0..<min(start, t.count) {
        if t[i] == content { a = i + 1 } else { break }
      }
      var b = t.count
      for i in 0..<min(stop, t.count) {
        let idx = t.count - i - 1
        if t[idx] == content { b = idx } else { break }
      }
      return a < b ? Array(t[a..<b]) : []
    }
  }
}

struct ReplaceDecoder: Decoder {
  let matcher: PatternMatcher
  let content: [UInt32]
  func decodeChain(_ tokens: [[UInt32]]) -> [[UInt32]] {
    let r = ReplaceNormalizer(matcher: matcher, content: content)
    return tokens.map { r.normalize($0) }
  }
}

struct WordPieceDecoder: Decoder {
  let prefix: [UInt32]
  let cleanup: Bool

  static func cleanup(_ t: [UInt32]) -> [UInt32] {
    var s = t
    for (from, to) in [
      (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
      (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ] {
      s = ReplaceNormalizer(
        matcher: LiteralMatcher(needle: scalarsOf(from)), content: scalarsOf(to)
      )
      .normalize(s)
    }
    return s
  }

  func decodeChain(_ tokens: [[UInt32]]) -> [[UInt32]] {
    tokens.enumerated().map { i, t0 in
      var t = t0
      if i != 0 {
        if t.starts(with: prefix) { t = Array(t.dropFirst(prefix.count)) } else { t = [0x20] + t }
      }
      return cleanup ? WordPieceDecoder.cleanup(t) : t
    }
  }
}

/// `BPEDecoder`: the end-of-word suffix becomes a space (nothing on the last token).
struct BPESuffixDecoder: Decoder {
  let suffix: [UInt32]
  func decodeChain(_ tokens: [[UInt32]]) -> [[UInt32]] {
    tokens.enumerated().map { i, t in
      ReplaceNormalizer(
        matcher: LiteralMatcher(needle: suffix), content: i == tokens.count - 1 ? [] : [0x20]
      ).normalize(t)
    }
  }
}

struct SequenceDecoder: Decoder {
  let items: [Decoder]
  func decodeChain(_ tokens: [[UInt32]]) -> [[UInt32]] {
    var t = tokens
    for d in items { t = d.decodeChain(t) }
    return t
  }
}

extension Loader {
  func decoder(_ j: JSON?, field: String = "decoder") throws -> Decoder? {
    guard let j, !j.isNull else { return nil }
    let type = try requireString(j, "type", field)
    switch type {
    case "ByteLevel": return ByteLevelDecoder()
    case "Metaspace":
      let rep = scalarsOf(j["replacement"]?.stringValue ?? "\u{2581}")
      guard rep.count == 1 else {
        throw TokenizerError.invalidField(
          path: path, field: field + ".replacement", reason: "expected one character")
      }
      var scheme = PrependScheme.always
      if let s = j["prepend_scheme"]?.stringValue, let ps = PrependScheme(rawValue: s) {
        scheme = ps
      } else if let add = j["add_prefix_space"]?.boolValue {
        scheme = add ? .always : .never
      }
      return MetaspaceDecoder(replacement: rep[0], prependScheme: scheme)
    case "ByteFallback": return ByteFallbackDecoder()
    case "Fuse": return FuseDecoder()
    case "Strip":
      let c = scalarsOf(j["content"]?.stringValue ?? " ")
      guard c.count == 1 else {
        throw TokenizerError.invalidField(
          path: path, field: field + ".content", reason: "expected one character")
      }
      return StripDecoder(
        content: c[0],
        start: try integer(j["start"], field: field + ".start", in: 0...Loader.maximumLength) ?? 0,
        stop: try integer(j["stop"], field: field + ".stop", in: 0...Loader.maximumLength) ?? 0)
    case "Replace":
      return ReplaceDecoder(
        matcher: try patternMatcher(j["pattern"], field: field + ".pattern"),
        content: scalarsOf(try requireString(j, "content", field)))
    case "WordPiece":
      return WordPieceDecoder(
        prefix: scalarsOf(j["prefix"]?.stringValue ?? "##"),
        cleanup: j["cleanup"]?.boolValue ?? true)
    case "BPEDecoder":
      return BPESuffixDecoder(suffix: scalarsOf(j["suffix"]?.stringValue ?? "</w>"))
    case "Sequence":
      guard let items = j["decoders"]?.arrayValue else {
        throw TokenizerError.invalidField(
          path: path, field: field + ".decoders", reason: "expected an array")
      }
      return SequenceDecoder(
        items: try items.enumerated().compactMap {
          try decoder($0.element, field: "\(field).decoders[\($0.offset)]")
        })
    default:
      throw TokenizerError.unsupported(path: path, feature: "decoder type '\(type)'")
    }
  }
}
