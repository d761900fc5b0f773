import Foundation

/// A `normalizer` of tokenizer.json: scalars in, scalars out.
protocol Normalizer {
  func normalize(_ s: [UInt32]) -> [UInt32]
}

enum UnicodeForm { case nfc, nfd, nfkc, nfkd }

/// Unicode normalization with the reference's data (see UnicodeNormalization.swift). Only the
/// stretches that can change are normalized: a scalar that is its own normal form, never
/// composes with what precedes it and has combining class 0 ("quick") is copied; each run of
/// other scalars, with the quick scalar before it, is normalized on its own.
func unicodeNormalize(_ s: [UInt32], _ form: UnicodeForm) -> [UInt32] {
  @inline(__always) func quick(_ c: UInt32) -> Bool {
    switch form {
    case .nfc:
      return c < 0x300 || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF)
        || (c >= 0xAC00 && c <= 0xD7A3)
    case .nfkc:
      return c < 0xA0 || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF)
        || (c >= 0xAC00 && c <= 0xD7A3)
    case .nfd:
      return c < 0xC0 || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF)
    case .nfkd:
      return c < 0xA0 || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF)
    }
  }
  var allQuick = true
  for c in s where !quick(c) {
    allQuick = false
    break
  }
  if allQuick { return s }
  var out: [UInt32] = []
  out.reserveCapacity(s.count + 8)
  let n = s.count
  var i = 0
  while i < n {
    if quick(s[i]) && (i + 1 == n || quick(s[i + 1])) {
      out.append(s[i])
      i += 1
      continue
    }
    let start = i
    var j = quick(s[i]) ? i + 1 : i
    while j < n && !quick(s[j]) { j += 1 }
    normalizeScalars(s[start..<j], form, into: &out)
    i = j
  }
  return out
}

struct UnicodeNormalizer: Normalizer {
  let form: UnicodeForm
  func normalize(_ s: [UInt32]) -> [UInt32] { unicodeNormalize(s, form) }
}

/// Rust `char::to_lowercase` applied per scalar (full mappings, no context).
func lowercaseScalars(_ s: [UInt32]) -> [UInt32] {
  var out: [UInt32] = []
  out.reserveCapacity(s.count)
  for c in s {
    if c < 0x80 {
      out.append(c >= 0x41 && c <= 0x5A ? c + 32 : c)
    } else if let u = Unicode.Scalar(c) {
      for l in u.properties.lowercaseMapping.unicodeScalars { out.append(l.value) }
    } else {
      out.append(c)
    }
  }
  return out
}

struct LowercaseNormalizer: Normalizer {
  func normalize(_ s: [UInt32]) -> [UInt32] { lowercaseScalars(s) }
}

/// A combining mark as the StripAccents normalizer of the reference sees it (its Unicode tables
/// predate the stdlib's: marks assigned since are kept, a few recategorised ones differ).
@inline(__always) func isMark(_ c: UInt32) -> Bool {
  c >= 0x300 && inRanges(combiningMarkRanges, c)
}

struct StripAccentsNormalizer: Normalizer {
  func normalize(_ s: [UInt32]) -> [UInt32] { s.filter { !isMark($0) } }
}

@inline(__always) func isWhiteSpace(_ c: UInt32) -> Bool { kind(c) & Kind.space != 0 }

struct StripNormalizer: Normalizer {
  let left: Bool
  let right: Bool
  func normalize(_ s: [UInt32]) -> [UInt32] {
    var a = 0
    var b = s.count
    if left { while a < b && isWhiteSpace(s[a]) { a += 1 } }
    if right { while b > a && isWhiteSpace(s[b - 1]) { b -= 1 } }
    return a == 0 && b == s.count ? s : Array(s[a..<b])
  }
}

struct PrependNormalizer: Normalizer {
  let prepend: [UInt32]
  func normalize(_ s: [UInt32]) -> [UInt32] { s.isEmpty ? s : prepend + s }
}

/// Replaces every match of a pattern (literal or regex) with `content`.
struct ReplaceNormalizer: Normalizer {
  let matcher: PatternMatcher
  let content: [UInt32]
  func normalize(_ s: [UInt32]) -> [UInt32] {
    let ms = s.withUnsafeBufferPointer { matcher.matches(in: $0) }
    if ms.isEmpty { return s }
    var out: [UInt32] = []
    out.reserveCapacity(s.count)
    var last = 0
    for m in ms {
      out.append(contentsOf: s[last..<m.lowerBound])
      out.append(contentsOf: content)
      last = m.upperBound
    }
    out.append(contentsOf: s[last...])
    return out
  }
}

struct BertNormalizer: Normalizer {
  let cleanText: Bool
  let handleChineseChars: Bool
  let stripAccents: Bool
  let lowercase: Bool

  static func isChinese(_ c: UInt32) -> Bool {
    (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
      || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F)
      || (c >= 0x2B920 && c <= 0x2CEAF) || (c >= 0xF900 && c <= 0xFAFF)
      || (c >= 0x2F800 && c <= 0x2FA1F)
  }

  func normalize(_ input: [UInt32]) -> [UInt32] {
    var s = input
    if cleanText {
      var out: [UInt32] = []
      out.reserveCapacity(s.count)
      for c in s {
        if c == 0x09 || c == 0x0A || c == 0x0D {
          out.append(0x20)
          continue
        }
        if c == 0 || c == 0xFFFD { continue }
        if c < 0x80 {
          if c < 0x20 || c == 0x7F { continue }
          out.append(c)
          continue
        }
        // control, format and private-use characters, by the reference's (older) tables
        if inRanges(bertControlRanges, c) { continue }
        out.append(isWhiteSpace(c) ? 0x20 : c)
      }
      s = out
    }
    if handleChineseChars {
      var out: [UInt32] = []
      out.reserveCapacity(s.count)
      for c in s {
        if c >= 0x3400 && BertNormalizer.isChinese(c) {
          out.append(0x20)
          out.append(c)
          out.append(0x20)
        } else {
          out.append(c)
        }
      }
      s = out
    }
    if stripAccents {
      s = unicodeNormalize(s, .nfd).filter {
        !($0 >= 0x300 && inRanges(bertNonspacingMarkRanges, $0))
      }
    }
    if lowercase { s = lowercaseScalars(s) }
    return s
  }
}

/// Maps each UTF-8 byte to its byte-level character (the `ByteLevel` normalizer).
struct ByteLevelNormalizer: Normalizer {
  func normalize(_ s: [UInt32]) -> [UInt32] { byteLevelEncode(s) }
}

struct SequenceNormalizer: Normalizer {
  let normalizers: [Normalizer]
  func normalize(_ s: [UInt32]) -> [UInt32] {
    var r = s
    for n in normalizers { r = n.normalize(r) }
    return r
  }
}

extension Loader {
  func normalizer(_ j: JSON?, field: String = "normalizer") throws -> Normalizer? {
    guard let j, !j.isNull else { return nil }
    let type = try requireString(j, "type", field)
    switch type {
    case "NFC": return UnicodeNormalizer(form: .nfc)
    case "NFD": return UnicodeNormalizer(form: .nfd)
    case "NFKC": return UnicodeNormalizer(form: .nfkc)
    case "NFKD": return UnicodeNormalizer(form: .nfkd)
    case "Lowercase": return LowercaseNormalizer()
    case "StripAccents": return StripAccentsNormalizer()
    case "Strip":
      return StripNormalizer(
        left: j["strip_left"]?.boolValue ?? true, right: j["strip_right"]?.boolValue ?? true)
    case "Prepend":
      return PrependNormalizer(prepend: scalarsOf(try requireString(j, "prepend", field)))
    case "Replace":
      return ReplaceNormalizer(
        matcher: try patternMatcher(j["pattern"], field: field + ".pattern"),
        content: scalarsOf(try requireString(j, "content", field)))
    case "BertNormalizer":
      let lower = j["lowercase"]?.boolValue ?? true
      return BertNormalizer(
        cleanText: j["clean_text"]?.boolValue ?? true,
        handleChineseChars: j["handle_chinese_chars"]?.boolValue ?? true,
        stripAccents: j["strip_accents"]?.boolValue ?? lower, lowercase: lower)
    case "ByteLevel": return ByteLevelNormalizer()
    case "Sequence":
      guard let items = j["normalizers"]?.arrayValue else {
        throw TokenizerError.invalidField(
          path: path, field: field + ".normalizers", reason: "expected an array")
      }
      return SequenceNormalizer(
        normalizers: try items.enumerated().compactMap {
          try normalizer($0.element, field: "\(field).normalizers[\($0.offset)]")
        })
    default:
      throw TokenizerError.unsupported(path: path, feature: "normalizer type '\(type)'")
    }
  }
}
