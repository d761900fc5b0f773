import Foundation

/// A parsed JSON value. Strings keep their exact UTF-8 bytes: Foundation's `JSONSerialization`
/// returns `[String: Any]`, and Swift `String` keys compare by canonical equivalence, so two
/// vocabulary entries such as "é" (U+00E9) and "e\u{301}" would collapse into one. Object
/// members keep their file order.
enum JSON {
  case null
  case bool(Bool)
  case number(Double)
  case string([UInt8])
  case array([JSON])
  case object([(key: [UInt8], value: JSON)])

  subscript(key: String) -> JSON? {
    guard case .object(let members) = self else { return nil }
    let k = Array(key.utf8)
    // A repeated key: the last one wins, as with serde.
    for m in members.reversed() where m.key == k { return m.value }
    return nil
  }

  var isNull: Bool {
    if case .null = self { return true }
    return false
  }

  var stringValue: String? {
    if case .string(let b) = self { return String(decoding: b, as: UTF8.self) }
    return nil
  }

  var bytesValue: [UInt8]? {
    if case .string(let b) = self { return b }
    return nil
  }

  var boolValue: Bool? {
    if case .bool(let b) = self { return b }
    return nil
  }

  var intValue: Int? {
    if case .number(let d) = self, d.rounded() == d, abs(d) < 9.0e15 { return Int(d) }
    return nil
  }

  var arrayValue: [JSON]? {
    if case .array(let a) = self { return a }
    return nil
  }

  var objectValue: [(key: [UInt8], value: JSON)]? {
    if case .object(let o) = self { return o }
    return nil
  }

  static func parse(_ data: Data) throws -> JSON {
    try data.withUnsafeBytes { raw -> JSON in
      var p = JSONParser(bytes: raw.bindMemory(to: UInt8.self))
      p.skipWhitespace()
      let v = try p.parseValue(depth: 0)
      p.skipWhitespace()
      if p.pos != p.bytes.count { throw p.error("unexpected data after the top-level value") }
      return v
    }
  }
}

struct JSONParseError: Error {
  var message: String
}

struct JSONParser {
  let bytes: UnsafeBufferPointer<UInt8>
  var pos = 0

  init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

  func error(_ what: String) -> JSONParseError {
    var line = 1
    var col = 1
    for i in 0..<min(pos, bytes.count) {
      if bytes[i] == 0x0A {
        line += 1
        col = 1
      } else {
        col += 1
      }
    }
    return JSONParseError(message: "\(what) at line \(line), column \(col)")
  }

  mutating func skipWhitespace() {
    while pos < bytes.count {
      let c = bytes[pos]
      if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 } else { break }
    }
  }

  mutating func parseValue(depth: Int) throws -> JSON {
    if depth > 512 { throw error("nesting too deep") }
    guard pos < bytes.count else { throw error("unexpected end of input") }
    switch bytes[pos] {
    case UInt8(ascii: "{"):
      pos += 1
      var members: [(key: [UInt8], value: JSON)] = []
      skipWhitespace()
      if pos < bytes.count && bytes[pos] == UInt8(ascii: "}") {
        pos += 1
        return .object(members)
      }
      while true {
        skipWhitespace()
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else {
          throw error("expected a string key")
        }
        let key = try parseString()
        skipWhitespace()
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else {
          throw error("expected ':'")
        }
        pos += 1
        skipWhitespace()
        let value = try parseValue(depth: depth + 1)
        members.append((key, value))
        skipWhitespace()
        guard pos < bytes.count else { throw error("unexpected end of input in an object") }
        if bytes[pos] == UInt8(ascii: ",") {
          pos += 1
        } else if bytes[pos] == UInt8(ascii: "}") {
          pos += 1
          return .object(members)
        } else {
          throw error("expected ',' or '}'")
        }
      }
    case UInt8(ascii: "["):
      pos += 1
      var items: [JSON] = []
      skipWhitespace()
      if pos < bytes.count && bytes[pos] == UInt8(ascii: "]") {
        pos += 1
        return .array(items)
      }
      while true {
        skipWhitespace()
        items.append(try parseValue(depth: depth + 1))
        skipWhitespace()
        guard pos < bytes.count else { throw error("unexpected end of input in an array") }
        if bytes[pos] == UInt8(ascii: ",") {
          pos += 1
        } else if bytes[pos] == UInt8(ascii: "]") {
          pos += 1
          return .array(items)
        } else {
          throw error("expected ',' or ']'")
        }
      }
    case UInt8(ascii: "\""):
      return .string(try parseString())
    case UInt8(ascii: "t"):
      try expectLiteral("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try expectLiteral("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try expectLiteral("null")
      return .null
    default:
      return .number(try parseNumber())
    }
  }

  mutating func expectLiteral(_ s: StaticString) throws {
    let n = s.utf8CodeUnitCount
    guard pos + n <= bytes.count else { throw error("unexpected end of input") }
    let p = s.utf8Start
    for i in 0..<n where bytes[pos + i] != p[i] { throw error("invalid literal") }
    pos += n
  }

  mutating func parseNumber() throws -> Double {
    let start = pos
    while pos < bytes.count {
      let c = bytes[pos]
      if (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+")
        || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
      {
        pos += 1
      } else {
        break
      }
    }
    guard pos > start, let d = Double(String(decoding: bytes[start..<pos], as: UTF8.self)) else {
      throw error("invalid value")
    }
    return d
  }

  mutating func hex4() throws -> UInt32 {
    guard pos + 4 <= bytes.count else { throw error("truncated \\u escape") }
    var v: UInt32 = 0
    for _ in 0..<4 {
      let c = bytes[pos]
      let d: UInt32
      switch c {
      case 0x30...0x39: d = UInt32(c - 0x30)
      case 0x41...0x46: d = UInt32(c - 0x41 + 10)
      case 0x61...0x66: d = UInt32(c - 0x61 + 10)
      default: throw error("invalid \\u escape")
      }
      v = v << 4 | d
      pos += 1
    }
    return v
  }

  mutating func parseString() throws -> [UInt8] {
    pos += 1  // opening quote
    var out: [UInt8] = []
    // Fast path: no escapes.
    let start = pos
    while pos < bytes.count {
      let c = bytes[pos]
      if c == UInt8(ascii: "\"") {
        out.append(contentsOf: bytes[start..<pos])
        pos += 1
        return try validated(out)
      }
      if c == UInt8(ascii: "\\") { break }
      pos += 1
    }
    out.append(contentsOf: bytes[start..<pos])
    while pos < bytes.count {
      let c = bytes[pos]
      if c == UInt8(ascii: "\"") {
        pos += 1
        return try validated(out)
      }
      if c != UInt8(ascii: "\\") {
        out.append(c)
        pos += 1
        continue
      }
      pos += 1
      guard pos < bytes.count else { break }
      let e = bytes[pos]
      pos += 1
      switch e {
      case UInt8(ascii: "\""): out.append(0x22)
      case UInt8(ascii: "\\"): out.append(0x5C)
      case UInt8(ascii: "/"): out.append(0x2F)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "u"):
        var v = try hex4()
        if v >= 0xD800 && v < 0xDC00 {
          guard pos + 6 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"),
            bytes[pos + 1] == UInt8(ascii: "u")
          else { throw error("lone surrogate in \\u escape") }
          pos += 2
          let lo = try hex4()
          guard lo >= 0xDC00 && lo < 0xE000 else { throw error("invalid surrogate pair") }
          v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
        } else if v >= 0xDC00 && v < 0xE000 {
          throw error("lone surrogate in \\u escape")
        }
        appendUTF8(v, to: &out)
      default:
        throw error("invalid escape")
      }
    }
    throw error("unterminated string")
  }

  func validated(_ b: [UInt8]) throws -> [UInt8] {
    // Reject invalid UTF-8 (serde_json does too).
    var it = b.makeIterator()
    var dec = UTF8()
    while true {
      switch dec.decode(&it) {
      case .scalarValue: continue
      case .emptyInput: return b
      case .error: throw error("invalid UTF-8 in a string")
      }
    }
  }
}

@inline(__always)
func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
  if v < 0x80 {
    out.append(UInt8(v))
  } else if v < 0x800 {
    out.append(UInt8(0xC0 | (v >> 6)))
    out.append(UInt8(0x80 | (v & 0x3F)))
  } else if v < 0x10000 {
    out.append(UInt8(0xE0 | (v >> 12)))
    out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
    out.append(UInt8(0x80 | (v & 0x3F)))
  } else {
    out.append(UInt8(0xF0 | (v >> 18)))
    out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
    out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
    out.append(UInt8(0x80 | (v & 0x3F)))
  }
}

/// UTF-8 bytes → Unicode scalar values. The input is valid UTF-8 (from a Swift String or a
/// validated JSON string).
func decodeScalars(_ bytes: [UInt8]) -> [UInt32] {
  var out: [UInt32] = []
  out.reserveCapacity(bytes.count)
  var it = bytes.makeIterator()
  var dec = UTF8()
  while case .scalarValue(let s) = dec.decode(&it) { out.append(s.value) }
  return out
}

func encodeUTF8(_ scalars: [UInt32]) -> [UInt8] {
  var out: [UInt8] = []
  out.reserveCapacity(scalars.count)
  for s in scalars { appendUTF8(s, to: &out) }
  return out
}

func scalarsOf(_ s: String) -> [UInt32] {
  var out: [UInt32] = []
  out.reserveCapacity(s.utf8.count)
  for u in s.unicodeScalars { out.append(u.value) }
  return out
}

func stringFrom(scalars: [UInt32]) -> String {
  String(decoding: encodeUTF8(scalars), as: UTF8.self)
}
