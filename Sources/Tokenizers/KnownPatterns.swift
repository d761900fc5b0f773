import Foundation

/// Something that finds the non-overlapping matches of a pattern in a scalar string, in order.
protocol PatternMatcher {
  func matches(in s: UnsafeBufferPointer<UInt32>) -> [Range<Int>]
}

extension OnigRegex: PatternMatcher {}

/// Matches of a literal scalar string (`Split` / `Replace` with a `String` pattern).
struct LiteralMatcher: PatternMatcher {
  let needle: [UInt32]

  func matches(in s: UnsafeBufferPointer<UInt32>) -> [Range<Int>] {
    var out: [Range<Int>] = []
    let m = needle.count
    guard m > 0, s.count >= m else { return out }
    let first = needle[0]
    var i = 0
    while i + m <= s.count {
      if s[i] == first {
        var ok = true
        for j in 1..<m where s[i + j] != needle[j] {
          ok = false
          break
        }
        if ok {
          out.append(i..<(i + m))
          i += m
          continue
        }
      }
      i += 1
    }
    return out
  }
}

/// Each scalar satisfying a predicate is one match (`char::is_whitespace`-style patterns).
struct PredicateMatcher: PatternMatcher {
  let test: (UInt32) -> Bool

  func matches(in s: UnsafeBufferPointer<UInt32>) -> [Range<Int>] {
    var out: [Range<Int>] = []
    for i in 0..<s.count where test(s[i]) { out.append(i..<(i + 1)) }
    return out
  }
}

enum KnownPatterns {
  static let gpt2 =
    #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
  static let cl100k =
    #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
  static let qwen2 =
    #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

  /// A hand-written matcher for a well-known pre-tokenizer regex, or nil. Each one is checked
  /// against the general engine and against the reference library in the tests.
  static func matcher(for pattern: String) -> PatternMatcher? {
    switch pattern {
    case gpt2: return GPT2Matcher()
    case cl100k: return CL100KMatcher(maxDigits: 3)
    case qwen2: return CL100KMatcher(maxDigits: 1)
    default: return nil
    }
  }
}

@inline(__always)
private func kindOf(_ table: UnsafeBufferPointer<UInt8>, _ v: UInt32) -> UInt8 {
  v < 0x10000 ? table[Int(v)] : kind(v)
}

/// Length of the case-sensitive contraction `'s|'t|'re|'ve|'m|'ll|'d` at i (0 if none).
@inline(__always)
private func contraction(_ s: UnsafeBufferPointer<UInt32>, _ i: Int, caseInsensitive: Bool) -> Int {
  guard s[i] == 0x27, i + 1 < s.count else { return 0 }
  @inline(__always) func f(_ c: UInt32) -> UInt32 {
    if !caseInsensitive { return c }
    if c >= 0x41 && c <= 0x5A { return c + 32 }
    if c == 0x17F { return 0x73 }  // ſ folds to s
    return c
  }
  let a = f(s[i + 1])
  switch a {
  case 0x73, 0x74, 0x6D, 0x64: return 2  // s t m d
  case 0x72, 0x76:  // r v
    if i + 2 < s.count && f(s[i + 2]) == 0x65 { return 3 }
  case 0x6C:  // l
    if i + 2 < s.count && f(s[i + 2]) == 0x6C { return 3 }
  default: break
  }
  return 0
}

/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
struct GPT2Matcher: PatternMatcher {
  func matches(in s: UnsafeBufferPointer<UInt32>) -> [Range<Int>] {
    var out: [Range<Int>] = []
    out.reserveCapacity(s.count / 4 + 1)
    kindTable.withUnsafeBufferPointer { t in
      let n = s.count
      var i = 0
      while i < n {
        let start = i
        let c = s[i]
        let cl = contraction(s, i, caseInsensitive: false)
        if cl > 0 {
          i += cl
          out.append(start..<i)
          continue
        }
        var j = i
        if c == 0x20 && i + 1 < n { j = i + 1 }
        let kj = kindOf(t, s[j])
        if kj & Kind.letter != 0 {
          j += 1
          while j < n && kindOf(t, s[j]) & Kind.letter != 0 { j += 1 }
          i = j
        } else if kj & Kind.number != 0 {
          j += 1
          while j < n && kindOf(t, s[j]) & Kind.number != 0 { j += 1 }
          i = j
        } else if kj & (Kind.space | Kind.letter | Kind.number) == 0 {
          j += 1
          while j < n && kindOf(t, s[j]) & (Kind.space | Kind.letter | Kind.number) == 0 { j += 1 }
          i = j
        } else {
          // c is whitespace (a space followed by whitespace, or another space character).
          var r = i + 1
          while r < n && kindOf(t, s[r]) & Kind.space != 0 { r += 1 }
          if r == n || r - i == 1 { i = r } else { i = r - 1 }
        }
        out.append(start..<i)
      }
    }
    return out
  }
}

/// The Llama 3 / cl100k pattern (maxDigits 3) and Qwen2's (maxDigits 1):
/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|`
/// ` ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
struct CL100KMatcher: PatternMatcher {
  let maxDigits: Int

  func matches(in s: UnsafeBufferPointer<UInt32>) -> [Range<Int>] {
    var out: [Range<Int>] = []
    out.reserveCapacity(s.count / 4 + 1)
    kindTable.withUnsafeBufferPointer { t in
      let n = s.count
      var i = 0
      while i < n {
        let start = i
        let c = s[i]
        let cl = contraction(s, i, caseInsensitive: true)
        if cl > 0 {
          i += cl
          out.append(start..<i)
          continue
        }
        let k = kindOf(t, c)
        if k & Kind.letter != 0 {
          i += 1
          while i < n && kindOf(t, s[i]) & Kind.letter != 0 { i += 1 }
          out.append(start..<i)
          continue
        }
        if k & (Kind.newline | Kind.number) == 0 && i + 1 < n
          && kindOf(t, s[i + 1]) & Kind.letter != 0
        {
          i += 2
          while i < n && kindOf(t, s[i]) & Kind.letter != 0 { i += 1 }
          out.append(start..<i)
          continue
        }
        if k & Kind.number != 0 {
          i += 1
          var d = 1
          while d < maxDigits && i < n && kindOf(t, s[i]) & Kind.number != 0 {
            i += 1
            d += 1
          }
          out.append(start..<i)
          continue
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        let other = Kind.space | Kind.letter | Kind.number
        var j = i
        if c == 0x20 && i + 1 < n && kindOf(t, s[i + 1]) & other == 0 { j = i + 1 }
        if kindOf(t, s[j]) & other == 0 {
          j += 1
          while j < n && kindOf(t, s[j]) & other == 0 { j += 1 }
          while j < n && (s[j] == 0x0D || s[j] == 0x0A) { j += 1 }
          i = j
          out.append(start..<i)
          continue
        }
        // Whitespace run [i, r).
        var r = i + 1
        var lastNewline = (c == 0x0A || c == 0x0D) ? i : -1
        while r < n && kindOf(t, s[r]) & Kind.space != 0 {
          if s[r] == 0x0A || s[r] == 0x0D { lastNewline = r }
          r += 1
        }
        if lastNewline >= 0 {
          i = lastNewline + 1  // `\s*[\r\n]+`
        } else if r == n || r - i == 1 {
          i = r  // `\s+(?!\S)` to the end, or `\s+` of one character
        } else {
          i = r - 1
        }
        out.append(start..<i)
      }
    }
    return out
  }
}
