import Foundation

/// A backtracking regular-expression engine over Unicode scalars with the semantics of
/// Oniguruma's default syntax, the engine Hugging Face `tokenizers` uses for `Split`, `Replace`
/// and the ByteLevel pre-tokenizer: leftmost match, alternatives tried in order, greedy, lazy
/// and possessive (`?+ *+ ++`) quantifiers, atomic groups, look-ahead and look-behind, `\p{…}`
/// general categories, `\s` as Unicode White_Space, `\w` as Letter|Mark|Nd|Pc, `\h` as a hex
/// digit, `^`/`$` at line boundaries, `(?i)` by simple case folding. `{n,m}+` is a repeated
/// interval, not a possessive one (Oniguruma syntax). Foundation's NSRegularExpression (ICU) is
/// not used: its `\s` misses U+000B and U+0085, and its `$` only matches at the end.
final class OnigRegex {
  let pattern: String
  let root: RNode

  init(_ pattern: String) throws {
    self.pattern = pattern
    var p = RegexParser(Array(pattern.unicodeScalars.map { $0.value }))
    root = try p.parseAll()
  }

  /// All non-overlapping matches, scanning left to right like `onig::Regex::find_iter`.
  func matches(in s: UnsafeBufferPointer<UInt32>) -> [Range<Int>] {
    var out: [Range<Int>] = []
    var pos = 0
    var lastEnd = -1
    let n = s.count
    while pos <= n {
      guard let m = firstMatch(in: s, from: pos) else { break }
      if m.isEmpty && m.lowerBound == lastEnd {
        pos = m.lowerBound + 1
        continue
      }
      out.append(m)
      lastEnd = m.upperBound
      pos = m.isEmpty ? m.upperBound + 1 : m.upperBound
    }
    return out
  }

  func firstMatch(in s: UnsafeBufferPointer<UInt32>, from start: Int) -> Range<Int>? {
    let m = Matcher(s: s)
    var p = start
    while p <= s.count {
      var end = -1
      if m.match(
        root, p,
        { e in
          end = e
          return true
        })
      {
        return p..<end
      }
      p += 1
    }
    return nil
  }
}

final class CharMatcher {
  enum Item {
    case scalar(UInt32)
    case range(UInt32, UInt32)
    case categories(UInt32)  // bit set over GC
    case flags(UInt16)  // any of UFlags
    case onigWord
    case hexDigit
    case any
    case ascii
    case posixPunct
    case posixGraph
    case posixPrint
    case posixBlank
    case posixCntrl
    case sub(CharMatcher)
  }
  var items: [Item] = []
  var negated = false
  var caseInsensitive = false
  private var asciiBits: (UInt64, UInt64) = (0, 0)

  init() {}

  init(_ item: Item, negated: Bool = false) {
    items = [item]
    self.negated = negated
    finish()
  }

  func finish() {
    var lo: UInt64 = 0
    var hi: UInt64 = 0
    for c in UInt32(0)..<128 where slowMatches(c) {
      if c < 64 { lo |= 1 << UInt64(c) } else { hi |= 1 << UInt64(c - 64) }
    }
    asciiBits = (lo, hi)
  }

  @inline(__always)
  func matches(_ c: UInt32) -> Bool {
    if c < 64 { return asciiBits.0 & (1 << UInt64(c)) != 0 }
    if c < 128 { return asciiBits.1 & (1 << UInt64(c - 64)) != 0 }
    return slowMatches(c)
  }

  func slowMatches(_ c: UInt32) -> Bool {
    var r = rawMatches(c)
    if !r && caseInsensitive {
      let f = caseFold(c)
      if f != c { r = rawMatches(f) }
      if !r {
        // Anything folding to the same value: try the simple uppercase of the fold.
        if let s = Unicode.Scalar(f) {
          let up = s.properties.uppercaseMapping.unicodeScalars
          if up.count == 1, up.first!.value != c { r = rawMatches(up.first!.value) }
        }
      }
      if !r {
        for item in items {
          if case .scalar(let v) = item, caseFold(v) == f {
            r = true
            break
          }
        }
      }
    }
    return r != negated
  }

  private func rawMatches(_ c: UInt32) -> Bool {
    for item in items {
      switch item {
      case .scalar(let v): if c == v { return true }
      case .range(let a, let b): if c >= a && c <= b { return true }
      case .categories(let bits):
        if bits & (1 << UInt32(generalCategory(c).rawValue)) != 0 { return true }
      case .flags(let f): if uflags(c) & f != 0 { return true }
      case .onigWord:
        if isOnigWord(c) { return true }
      case .hexDigit:
        if (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) {
          return true
        }
      case .any: return true
      case .ascii: if c < 128 { return true }
      case .posixPunct:
        // Oniguruma 6.9's Unicode [[:punct:]] is punctuation and symbols.
        if GCSet.bit(generalCategory(c)) & (GCSet.punctuation | GCSet.symbol) != 0 { return true }
      case .posixGraph, .posixPrint:
        let g = generalCategory(c)
        if case .posixPrint = item, g == .Zs { return true }
        if uflags(c) & UFlags.whiteSpace == 0 && g != .Cc && g != .Cn && g != .Cs { return true }
      case .posixBlank: if c == 0x09 || generalCategory(c) == .Zs { return true }
      case .posixCntrl:
        // Oniguruma's Unicode [[:cntrl:]] is Control (Cc) only.
        if generalCategory(c) == .Cc { return true }
      case .sub(let m): if m.matches(c) { return true }
      }
    }
    return false
  }
}

enum AssertKind {
  case lineStart, lineEnd, textStart, textEnd, textEndBeforeNewline, wordBoundary, notWordBoundary
  case searchStart
}

enum RepKind { case greedy, lazy, possessive }

indirect enum RNode {
  case empty
  case char(CharMatcher)
  case seq([RNode])
  case alt([RNode])
  case rep(RNode, Int, Int, RepKind)
  case atomic(RNode)
  case look(RNode, ahead: Bool, negate: Bool)
  case assert(AssertKind)
  case grapheme
}

struct Matcher {
  let s: UnsafeBufferPointer<UInt32>

  func isWord(_ i: Int) -> Bool {
    guard i >= 0 && i < s.count else { return false }
    return isOnigWord(s[i])
  }

  func match(_ node: RNode, _ i: Int, _ k: (Int) -> Bool) -> Bool {
    switch node {
    case .empty:
      return k(i)
    case .char(let cm):
      guard i < s.count, cm.matches(s[i]) else { return false }
      return k(i + 1)
    case .seq(let nodes):
      return matchSeq(nodes, 0, i, k)
    case .alt(let nodes):
      for n in nodes where match(n, i, k) { return true }
      return false
    case .rep(let inner, let lo, let hi, let kind):
      if case .char(let cm) = inner {
        var n = 0
        while n < hi && i + n < s.count && cm.matches(s[i + n]) { n += 1 }
        if n < lo { return false }
        switch kind {
        case .possessive:
          return k(i + n)
        case .greedy:
          var c = n
          while c >= lo {
            if k(i + c) { return true }
            c -= 1
          }
          return false
        case .lazy:
          var c = lo
          while c <= n {
            if k(i + c) { return true }
            c += 1
          }
          return false
        }
      }
      if kind == .possessive {
        var end = -1
        guard
          matchRep(
            inner, lo, hi, .greedy, 0, i,
            { e in
              end = e
              return true
            })
        else { return false }
        return k(end)
      }
      return matchRep(inner, lo, hi, kind, 0, i, k)
    case .atomic(let inner):
      var end = -1
      guard
        match(
          inner, i,
          { e in
            end = e
            return true
          })
      else { return false }
      return k(end)
    case .look(let inner, let ahead, let negate):
      var found: Bool
      if ahead {
        found = match(inner, i, { _ in true })
      } else {
        found = false
        var start = i
        while start >= max(0, i - 4096) {
          if match(inner, start, { e in e == i }) {
            found = true
            break
          }
          start -= 1
        }
      }
      return found != negate ? k(i) : false
    case .assert(let a):
      let ok: Bool
      switch a {
      case .lineStart: ok = i == 0 || s[i - 1] == 0x0A
      case .lineEnd: ok = i == s.count || s[i] == 0x0A
      case .textStart, .searchStart: ok = i == 0
      case .textEnd: ok = i == s.count
      case .textEndBeforeNewline: ok = i == s.count || (i == s.count - 1 && s[i] == 0x0A)
      case .wordBoundary: ok = isWord(i - 1) != isWord(i)
      case .notWordBoundary: ok = isWord(i - 1) == isWord(i)
      }
      return ok ? k(i) : false
    case .grapheme:
      guard i < s.count else { return false }
      var str = String.UnicodeScalarView()
      var j = i
      while j < s.count && j < i + 64 {
        str.append(Unicode.Scalar(s[j]) ?? "\u{FFFD}")
        j += 1
      }
      let first = String(str).first!
      return k(i + first.unicodeScalars.count)
    }
  }

  func matchSeq(_ nodes: [RNode], _ idx: Int, _ i: Int, _ k: (Int) -> Bool) -> Bool {
    if idx == nodes.count { return k(i) }
    return match(nodes[idx], i) { j in matchSeq(nodes, idx + 1, j, k) }
  }

  func matchRep(
    _ node: RNode, _ lo: Int, _ hi: Int, _ kind: RepKind, _ count: Int, _ i: Int,
    _ k: (Int) -> Bool
  ) -> Bool {
    func again(_ j: Int) -> Bool {
      if j == i && count >= lo { return false }  // an empty iteration ends the loop
      return matchRep(node, lo, hi, kind, count + 1, j, k)
    }
    if kind == .lazy {
      if count >= lo && k(i) { return true }
      return count < hi && match(node, i, again)
    }
    if count < hi && match(node, i, again) { return true }
    return count >= lo && k(i)
  }
}

struct RegexParseError: Error {
  var message: String
}

struct RegexParser {
  let p: [UInt32]
  var i = 0
  var caseInsensitive = false
  var dotAll = false

  init(_ p: [UInt32]) { self.p = p }

  func err(_ m: String) -> RegexParseError {
    RegexParseError(message: "\(m) at offset \(i)")
  }

  var atEnd: Bool { i >= p.count }
  func peek(_ o: Int = 0) -> UInt32? { i + o < p.count ? p[i + o] : nil }
  func isChar(_ c: Character, _ o: Int = 0) -> Bool {
    peek(o) == c.unicodeScalars.first!.value
  }

  mutating func parseAll() throws -> RNode {
    let n = try parseAlt()
    if !atEnd { throw err("unbalanced ')'") }
    return n
  }

  mutating func parseAlt() throws -> RNode {
    let saved = caseInsensitive
    var alts: [RNode] = [try parseSeq()]
    while isChar("|") {
      i += 1
      alts.append(try parseSeq())
    }
    caseInsensitive = saved
    return alts.count == 1 ? alts[0] : .alt(alts)
  }

  mutating func parseSeq() throws -> RNode {
    var items: [RNode] = []
    while !atEnd && !isChar("|") && !isChar(")") {
      // Inline flags `(?i)` apply to the rest of the enclosing group.
      if isChar("("), isChar("?", 1), let flagsEnd = inlineFlagsEnd() {
        try applyFlags(from: i + 2, to: flagsEnd)
        i = flagsEnd + 1
        continue
      }
      var atom = try parseAtom()
      atom = try parseQuantifiers(atom)
      items.append(atom)
    }
    return items.count == 1 ? items[0] : .seq(items)
  }

  /// Index of the ')' closing a pure flag group such as `(?i)` or `(?-i)`, if this is one.
  func inlineFlagsEnd() -> Int? {
    var j = i + 2
    while j < p.count {
      let c = p[j]
      if c == 0x29 { return j > i + 2 ? j : nil }
      if !(c == 0x69 || c == 0x6D || c == 0x78 || c == 0x2D) { return nil }
      j += 1
    }
    return nil
  }

  mutating func applyFlags(from a: Int, to b: Int) throws {
    var on = true
    for j in a..<b {
      switch p[j] {
      case 0x2D: on = false
      case 0x69: caseInsensitive = on
      case 0x6D: dotAll = on
      case 0x78: if on { throw err("extended mode (?x) is not supported") }
      default: break
      }
    }
  }

  mutating func parseQuantifiers(_ atomIn: RNode) throws -> RNode {
    var atom = atomIn
    while let c = peek() {
      var lo = 0
      var hi = Int.max
      var isInterval = false
      if c == 0x2A {  // *
        i += 1
      } else if c == 0x2B {  // +
        lo = 1
        i += 1
      } else if c == 0x3F {  // ?
        hi = 1
        i += 1
      } else if c == 0x7B, let (a, b, len) = parseInterval() {  // {
        lo = a
        hi = b
        i += len
        isInterval = true
      } else {
        break
      }
      var kind = RepKind.greedy
      if isChar("?") {
        kind = .lazy
        i += 1
      } else if isChar("+") && !isInterval {
        kind = .possessive
        i += 1
      }
      atom = .rep(atom, lo, hi, kind)
    }
    return atom
  }

  /// `{n}`, `{n,}`, `{n,m}`, `{,m}`; nil when the brace is a literal.
  func parseInterval() -> (Int, Int, Int)? {
    var j = i + 1
    func num() -> Int? {
      var v: Int?
      while j < p.count, p[j] >= 0x30, p[j] <= 0x39 {
        v = (v ?? 0) * 10 + Int(p[j] - 0x30)
        if v! > 100_000 { return nil }
        j += 1
      }
      return v
    }
    let a = num()
    var b: Int?
    var comma = false
    if j < p.count && p[j] == 0x2C {
      comma = true
      j += 1
      b = num()
    }
    guard j < p.count, p[j] == 0x7D else { return nil }
    if a == nil && b == nil { return nil }
    let lo = a ?? 0
    let hi = comma ? (b ?? Int.max) : lo
    if hi < lo { return nil }
    return (lo, hi, j - i + 1)
  }

  mutating func literal(_ c: UInt32) -> RNode {
    let m = CharMatcher(.scalar(c))
    if caseInsensitive && caseFold(c) != c || caseInsensitive && hasFoldVariants(c) {
      m.caseInsensitive = true
      m.finish()
    }
    return .char(m)
  }

  func hasFoldVariants(_ c: UInt32) -> Bool {
    guard let s = Unicode.Scalar(c) else { return false }
    return s.properties.uppercaseMapping != String(s) || s.properties.lowercaseMapping != String(s)
  }

  mutating func parseAtom() throws -> RNode {
    let c = p[i]
    switch c {
    case 0x28:  // (
      return try parseGroup()
    case 0x5B:  // [
      i += 1
      let m = try parseClass()
      return .char(m)
    case 0x2E:  // .
      i += 1
      return .char(CharMatcher(dotAll ? .any : .scalar(0x0A), negated: !dotAll))
    case 0x5E:  // ^
      i += 1
      return .assert(.lineStart)
    case 0x24:  // $
      i += 1
      return .assert(.lineEnd)
    case 0x5C:  // backslash
      return try parseEscape()
    case 0x2A, 0x2B, 0x3F:
      throw err("quantifier without a target")
    default:
      i += 1
      return literal(c)
    }
  }

  mutating func parseGroup() throws -> RNode {
    i += 1
    let saved = caseInsensitive
    defer { caseInsensitive = saved }
    if isChar("?") {
      i += 1
      guard let c = peek() else { throw err("unterminated group") }
      switch c {
      case 0x3A:  // (?:
        i += 1
        return try closeGroup(try parseAlt())
      case 0x3E:  // (?>
        i += 1
        return .atomic(try closeGroup(try parseAlt()))
      case 0x3D, 0x21:  // (?= (?!
        i += 1
        return .look(try closeGroup(try parseAlt()), ahead: true, negate: c == 0x21)
      case 0x3C:  // (?<= (?<! (?<name>
        if isChar("=", 1) || isChar("!", 1) {
          let negate = isChar("!", 1)
          i += 2
          return .look(try closeGroup(try parseAlt()), ahead: false, negate: negate)
        }
        while let d = peek(), d != 0x3E { i += 1 }
        i += 1
        return try closeGroup(try parseAlt())
      case 0x23:  // (?# comment )
        while let d = peek(), d != 0x29 { i += 1 }
        i += 1
        return .empty
      default:
        // (?i:...) (?-i:...) (?im-x:...)
        var j = i
        while j < p.count, p[j] == 0x69 || p[j] == 0x6D || p[j] == 0x78 || p[j] == 0x2D {
          j += 1
        }
        guard j < p.count, p[j] == 0x3A, j > i else {
          throw err("unsupported group construct")
        }
        try applyFlags(from: i, to: j)
        i = j + 1
        return try closeGroup(try parseAlt())
      }
    }
    return try closeGroup(try parseAlt())
  }

  mutating func closeGroup(_ n: RNode) throws -> RNode {
    guard isChar(")") else { throw err("missing ')'") }
    i += 1
    return n
  }

  mutating func parseEscape() throws -> RNode {
    i += 1
    guard let c = peek() else { throw err("trailing backslash") }
    switch c {
    case 0x41:  // A
      i += 1
      return .assert(.textStart)
    case 0x7A:  // z
      i += 1
      return .assert(.textEnd)
    case 0x5A:  // Z
      i += 1
      return .assert(.textEndBeforeNewline)
    case 0x62:  // b
      i += 1
      return .assert(.wordBoundary)
    case 0x42:  // B
      i += 1
      return .assert(.notWordBoundary)
    case 0x47:  // G
      i += 1
      return .assert(.searchStart)
    case 0x58:  // X
      // Grapheme clusters differ between Unicode versions (Swift follows newer rules).
      throw err("\\X (grapheme cluster) is not supported")
    case 0x52:  // R: \r\n or any vertical space
      i += 1
      let crlf = RNode.seq([.char(CharMatcher(.scalar(0x0D))), .char(CharMatcher(.scalar(0x0A)))])
      let m = CharMatcher()
      m.items = [.range(0x0A, 0x0D), .scalar(0x85), .scalar(0x2028), .scalar(0x2029)]
      m.finish()
      return .atomic(.alt([crlf, .char(m)]))
    case 0x4B:  // K
      throw err("\\K is not supported")
    default:
      if c >= 0x31 && c <= 0x39 { throw err("backreferences are not supported") }
      let m = try parseClassEscape()
      if case .scalar(let v) = m.items.first, m.items.count == 1, !m.negated {
        return literal(v)
      }
      return .char(m)
    }
  }

  /// An escape usable both inside and outside brackets; `i` is just after the backslash.
  mutating func parseClassEscape() throws -> CharMatcher {
    let c = p[i]
    i += 1
    func single(_ v: UInt32) -> CharMatcher { CharMatcher(.scalar(v)) }
    switch c {
    case 0x73: return CharMatcher(.flags(UFlags.whiteSpace))  // s
    case 0x53: return CharMatcher(.flags(UFlags.whiteSpace), negated: true)
    case 0x64: return CharMatcher(.categories(GCSet.bit(.Nd)))  // d
    case 0x44: return CharMatcher(.categories(GCSet.bit(.Nd)), negated: true)
    case 0x77: return CharMatcher(.onigWord)  // w
    case 0x57: return CharMatcher(.onigWord, negated: true)
    case 0x68: return CharMatcher(.hexDigit)  // h
    case 0x48: return CharMatcher(.hexDigit, negated: true)
    case 0x70, 0x50:  // p P
      guard isChar("{") else { throw err("expected '{' after \\p") }
      i += 1
      var negate = c == 0x50
      if isChar("^") {
        negate.toggle()
        i += 1
      }
      var name = ""
      while let d = peek(), d != 0x7D {
        name.unicodeScalars.append(Unicode.Scalar(d)!)
        i += 1
      }
      guard isChar("}") else { throw err("unterminated \\p{") }
      i += 1
      return CharMatcher(try propertyItem(name), negated: negate)
    case 0x6E: return single(0x0A)
    case 0x72: return single(0x0D)
    case 0x74: return single(0x09)
    case 0x66: return single(0x0C)
    case 0x76: return single(0x0B)
    case 0x61: return single(0x07)
    case 0x65: return single(0x1B)
    case 0x30: return single(0)
    case 0x78:  // x
      if isChar("{") {
        i += 1
        var v: UInt32 = 0
        while let d = peek(), d != 0x7D {
          guard let h = hexValue(d) else { throw err("bad \\x{...}") }
          v = v * 16 + h
          i += 1
          if v > 0x10FFFF { throw err("code point out of range") }
        }
        i += 1
        return single(v)
      }
      var v: UInt32 = 0
      var n = 0
      while n < 2, let d = peek(), let h = hexValue(d) {
        v = v * 16 + h
        i += 1
        n += 1
      }
      return single(v)
    case 0x75:  // u
      var v: UInt32 = 0
      for _ in 0..<4 {
        guard let d = peek(), let h = hexValue(d) else { throw err("bad \\u escape") }
        v = v * 16 + h
        i += 1
      }
      return single(v)
    default:
      if (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) {
        throw err("unsupported escape \\\(Character(Unicode.Scalar(c)!))")
      }
      return single(c)
    }
  }

  func hexValue(_ d: UInt32) -> UInt32? {
    switch d {
    case 0x30...0x39: return d - 0x30
    case 0x41...0x46: return d - 0x41 + 10
    case 0x61...0x66: return d - 0x61 + 10
    default: return nil
    }
  }

  func propertyItem(_ raw: String) throws -> CharMatcher.Item {
    let name = raw.lowercased().filter { $0 != "_" && $0 != " " && $0 != "-" }
    let cats: [String: [GC]] = [
      "l": [.Lu, .Ll, .Lt, .Lm, .Lo], "letter": [.Lu, .Ll, .Lt, .Lm, .Lo],
      "lu": [.Lu], "uppercaseletter": [.Lu], "ll": [.Ll], "lowercaseletter": [.Ll],
      "lt": [.Lt], "titlecaseletter": [.Lt], "lm": [.Lm], "modifierletter": [.Lm],
      "lo": [.Lo], "otherletter": [.Lo], "lc": [.Lu, .Ll, .Lt], "casedletter": [.Lu, .Ll, .Lt],
      "m": [.Mn, .Mc, .Me], "mark": [.Mn, .Mc, .Me], "combiningmark": [.Mn, .Mc, .Me],
      "mn": [.Mn], "nonspacingmark": [.Mn], "mc": [.Mc], "spacingmark": [.Mc],
      "me": [.Me], "enclosingmark": [.Me],
      "n": [.Nd, .Nl, .No], "number": [.Nd, .Nl, .No], "nd": [.Nd], "decimalnumber": [.Nd],
      "nl": [.Nl], "letternumber": [.Nl], "no": [.No], "othernumber": [.No],
      "p": [.Pc, .Pd, .Ps, .Pe, .Pi, .Pf, .Po], "punctuation": [.Pc, .Pd, .Ps, .Pe, .Pi, .Pf, .Po],
      "pc": [.Pc], "connectorpunctuation": [.Pc], "pd": [.Pd], "dashpunctuation": [.Pd],
      "ps": [.Ps], "openpunctuation": [.Ps], "pe": [.Pe], "closepunctuation": [.Pe],
      "pi": [.Pi], "initialpunctuation": [.Pi], "pf": [.Pf], "finalpunctuation": [.Pf],
      "po": [.Po], "otherpunctuation": [.Po],
      "s": [.Sm, .Sc, .Sk, .So], "symbol": [.Sm, .Sc, .Sk, .So], "sm": [.Sm], "mathsymbol": [.Sm],
      "sc": [.Sc], "currencysymbol": [.Sc], "sk": [.Sk], "modifiersymbol": [.Sk],
      "so": [.So], "othersymbol": [.So],
      "z": [.Zs, .Zl, .Zp], "separator": [.Zs, .Zl, .Zp], "zs": [.Zs], "spaceseparator": [.Zs],
      "zl": [.Zl], "lineseparator": [.Zl], "zp": [.Zp], "paragraphseparator": [.Zp],
      "c": [.Cc, .Cf, .Cs, .Co, .Cn], "other": [.Cc, .Cf, .Cs, .Co, .Cn], "cc": [.Cc],
      "control": [.Cc], "cf": [.Cf], "format": [.Cf], "cs": [.Cs], "surrogate": [.Cs],
      "co": [.Co], "privateuse": [.Co], "cn": [.Cn], "unassigned": [.Cn],
    ]
    if let gcs = cats[name] {
      return .categories(gcs.reduce(0) { $0 | GCSet.bit($1) })
    }
    switch name {
    case "alpha", "alphabetic": return .flags(UFlags.alphabetic)
    case "upper", "uppercase": return .flags(UFlags.uppercase)
    case "lower", "lowercase": return .flags(UFlags.lowercase)
    case "space", "whitespace": return .flags(UFlags.whiteSpace)
    case "digit": return .categories(GCSet.bit(.Nd))
    case "word": return .onigWord
    case "xdigit", "hexdigit": return .hexDigit
    case "any": return .any
    case "ascii": return .ascii
    case "punct": return .posixPunct
    case "joincontrol": return .flags(UFlags.joinControl)
    case "emoji": return .flags(UFlags.emoji)
    case "alnum":
      let m = CharMatcher()
      // Oniguruma's [[:alnum:]] is Alphabetic or Decimal_Number.
      m.items = [.flags(UFlags.alphabetic), .categories(GCSet.bit(.Nd))]
      m.finish()
      return .sub(m)
    case "cntrl": return .posixCntrl
    case "graph": return .posixGraph
    case "print": return .posixPrint
    case "blank": return .posixBlank
    default:
      throw err("unsupported Unicode property \\p{\(raw)} (scripts and blocks are not supported)")
    }
  }

  /// After '['.
  mutating func parseClass() throws -> CharMatcher {
    let m = CharMatcher()
    m.caseInsensitive = caseInsensitive
    if isChar("^") {
      m.negated = true
      i += 1
    }
    var first = true
    while true {
      guard let c = peek() else { throw err("unterminated character class") }
      if c == 0x5D && !first {  // ]
        i += 1
        break
      }
      first = false
      if c == 0x26 && isChar("&", 1) { throw err("class intersection '&&' is not supported") }
      if c == 0x5B {  // [ nested or POSIX
        if isChar(":", 1) {
          var j = i + 2
          var name = ""
          var neg = false
          if j < p.count && p[j] == 0x5E {
            neg = true
            j += 1
          }
          while j < p.count, p[j] != 0x3A {
            name.unicodeScalars.append(Unicode.Scalar(p[j])!)
            j += 1
          }
          if j + 1 < p.count, p[j + 1] == 0x5D {
            i = j + 2
            let item = try propertyItem(name)
            if neg {
              m.items.append(.sub(CharMatcher(item, negated: true)))
            } else {
              m.items.append(item)
            }
            continue
          }
        }
        i += 1
        m.items.append(.sub(try parseClass()))
        continue
      }
      var lowScalar: UInt32?
      if c == 0x5C {  // backslash
        i += 1
        guard !atEnd else { throw err("trailing backslash") }
        let esc = try parseClassEscape()
        if esc.items.count == 1, case .scalar(let v) = esc.items[0], !esc.negated {
          lowScalar = v
        } else {
          m.items.append(.sub(esc))
          continue
        }
      } else {
        lowScalar = c
        i += 1
      }
      guard let lo = lowScalar else { continue }
      // Range?
      if isChar("-"), let nx = peek(1), nx != 0x5D {
        i += 1
        var hiScalar: UInt32
        if nx == 0x5C {
          i += 1
          let esc = try parseClassEscape()
          guard esc.items.count == 1, case .scalar(let v) = esc.items[0] else {
            throw err("bad range in class")
          }
          hiScalar = v
        } else {
          hiScalar = nx
          i += 1
        }
        if hiScalar < lo { throw err("empty range in class") }
        m.items.append(.range(lo, hiScalar))
      } else {
        m.items.append(.scalar(lo))
      }
    }
    m.finish()
    return m
  }
}

/// Oniguruma's Unicode `\w`, as recorded from the reference: mostly Alphabetic, Mark,
/// Decimal_Number and Connector_Punctuation, but also U+00B2, U+00B3, U+00B9, U+00BC...U+00BE.
@inline(__always)
func isOnigWord(_ c: UInt32) -> Bool { uflags(c) & UFlags.onigWord != 0 }
