import Foundation
import Testing

@testable import Tokenizers

/// The regex engine, pre-tokenizers and normalizers against what the reference library
/// produced for the same strings.
@Suite struct ComponentTests {
  static let regexCases: [[String: Any]] =
    try! Fixtures.json("regex_splits.json") as! [[String: Any]]

  /// `Split(Regex(p), "isolated")` piece lengths in scalars, as recorded from Python.
  func splitLengths(_ m: PatternMatcher, _ s: String) -> [Int] {
    let scalars = scalarsOf(s)
    var out: [Piece] = []
    let ms = scalars.withUnsafeBufferPointer { m.matches(in: $0) }
    splitPiece(Piece(s: scalars), matches: ms, behavior: .isolated, into: &out)
    return out.map { $0.s.count }
  }

  @Test(arguments: 0..<regexCases.count)
  func regexEngineMatchesOniguruma(_ index: Int) throws {
    let c = Self.regexCases[index]
    let pattern = c["pattern"] as! String
    let lengths = (c["lengths"] as! [[Int]])
    if pattern.contains("\\p{Han}") || pattern == "\\X" {
      // Script properties and grapheme clusters are refused with a message naming them.
      #expect(throws: RegexParseError.self) { try OnigRegex(pattern) }
      return
    }
    let engine = try OnigRegex(pattern)
    let known = KnownPatterns.matcher(for: pattern)
    var failures = 0
    for (s, expected) in zip(Fixtures.corpus.strings, lengths) {
      let got = splitLengths(engine, s)
      if got != expected {
        failures += 1
        if failures <= 3 {
          Issue.record("\(pattern) on \(Fixtures.show(s)): \(got) expected \(expected)")
        }
      }
      if let known {
        let fast = splitLengths(known, s)
        #expect(fast == expected, "hand-written matcher for \(pattern) on \(Fixtures.show(s))")
      }
    }
    #expect(failures == 0)
  }

  /// The hand-written matchers equal the general engine on random text drawn from an alphabet
  /// of every character class the patterns distinguish.
  @Test func knownMatchersEqualEngineOnRandomText() throws {
    let alphabet: [UInt32] = [
      0x20, 0x20, 0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x85, 0xA0, 0x3000, 0x27, 0x27, 0x73, 0x53, 0x74,
      0x72, 0x65, 0x76, 0x6C, 0x4C, 0x6D, 0x64, 0x17F, 0x61, 0x5A, 0xE9, 0x4E2D, 0x301, 0x31,
      0x32, 0x661, 0x2167, 0xB2, 0x2E, 0x21, 0x2C, 0x24, 0x1F600, 0x200D, 0x5F, 0x2D,
    ]
    var rng = SystemRandomNumberGenerator()
    for pattern in [KnownPatterns.gpt2, KnownPatterns.cl100k, KnownPatterns.qwen2] {
      let engine = try OnigRegex(pattern)
      let fast = try #require(KnownPatterns.matcher(for: pattern))
      for _ in 0..<400 {
        let n = Int.random(in: 0..<40, using: &rng)
        let s = (0..<n).map { _ in alphabet.randomElement(using: &rng)! }
        let a = s.withUnsafeBufferPointer { engine.matches(in: $0) }
        let b = s.withUnsafeBufferPointer { fast.matches(in: $0) }
        #expect(a == b, "\(pattern) on \(s.map { String($0, radix: 16) })")
      }
    }
  }

  @Test func regexErrorsNameTheProblem() {
    #expect(throws: RegexParseError.self) { try OnigRegex("(abc") }
    #expect(throws: RegexParseError.self) { try OnigRegex("\\p{Han}") }
    #expect(throws: RegexParseError.self) { try OnigRegex("[a-") }
  }

  @Test func regexDeepInputDoesNotCrash() throws {
    let engine = try OnigRegex(#"\s+(?!\S)|\s+|[^\s]+"#)
    let s = [UInt32](repeating: 0x20, count: 200_000) + [0x61]
    let ms = s.withUnsafeBufferPointer { engine.matches(in: $0) }
    #expect(ms.count == 3)
  }

  @Test func preTokenizersMatchReference() throws {
    let raw = try JSON.parse(Data(contentsOf: Fixtures.url("pre_tokenizer_splits.json")))
    let l = Loader(path: "test")
    for c in try #require(raw.arrayValue) {
      let name = c["name"]?.stringValue ?? "?"
      let pt = try #require(try l.preTokenizer(c["pre_tokenizer"]))
      // Expected pieces as exact scalars, straight from the JSON bytes.
      let pieces = try #require(c["pieces"]?.arrayValue).map {
        ($0.arrayValue ?? []).map { decodeScalars($0.bytesValue ?? []) }
      }
      for (s, expected) in zip(Fixtures.hardStrings, pieces) {
        let got = pt.preTokenize([Piece(s: scalarsOf(s), atStart: true)]).map { $0.s }
        #expect(got == expected, "\(name) on \(Fixtures.show(s))")
      }
    }
  }

  @Test func normalizersMatchReference() throws {
    let cases = try Fixtures.json("normalizer_cases.json") as! [[String: Any]]
    let normalizers: [String: Normalizer] = [
      "NFC": UnicodeNormalizer(form: .nfc), "NFD": UnicodeNormalizer(form: .nfd),
      "NFKC": UnicodeNormalizer(form: .nfkc), "NFKD": UnicodeNormalizer(form: .nfkd),
      "Lowercase": LowercaseNormalizer(),
      "BertNormalizer": BertNormalizer(
        cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true),
      "StripAccents": SequenceNormalizer(normalizers: [
        UnicodeNormalizer(form: .nfd), StripAccentsNormalizer(),
      ]),
    ]
    for c in cases {
      let name = c["name"] as! String
      let n = try #require(normalizers[name])
      for (s, expected) in zip(Fixtures.hardStrings, c["normalized"] as! [String]) {
        let got = n.normalize(scalarsOf(s))
        #expect(got == scalarsOf(expected), "\(name) on \(Fixtures.show(s))")
      }
    }
  }
}
