import Foundation
import Testing

@testable import Tokenizers

@Suite struct RobustnessTests {
  @Test func missingFile() {
    let url = Fixtures.url("does-not-exist")
    #expect(throws: TokenizerError.fileNotFound(path: url.path)) {
      try Tokenizer.load(from: url)
    }
    // A folder without tokenizer.json.
    #expect(throws: TokenizerError.self) { try Tokenizer.load(from: Fixtures.url("errors")) }
  }

  @Test func malformedJSON() {
    do {
      _ = try Tokenizer.load(from: Fixtures.url("errors/malformed.json"))
      Issue.record("expected an error")
    } catch let e as TokenizerError {
      guard case .malformedJSON(let path, _) = e else {
        Issue.record("wrong error \(e)")
        return
      }
      #expect(path.hasSuffix("malformed.json"))
      #expect(e.description.contains("malformed.json"))
    } catch {
      Issue.record("untyped error \(error)")
    }
  }

  @Test func unigramIsRefusedByName() {
    do {
      _ = try Tokenizer.load(from: Fixtures.url("errors/unigram.json"))
      Issue.record("expected an error")
    } catch let e as TokenizerError {
      #expect(e.description.contains("Unigram"))
      #expect(e.description.contains("unigram.json"))
    } catch {
      Issue.record("untyped error \(error)")
    }
  }

  func minimal(model: String, extra: String = "") -> Data {
    Data(
      """
      {"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":null,
       "post_processor":null,"decoder":null\(extra),"model":\(model)}
      """.utf8)
  }

  @Test func unsupportedPiecesAreNamed() {
    let bpe = #"{"type":"BPE","vocab":{"a":0},"merges":[]}"#
    for (extra, word) in [
      (#","normalizer":{"type":"Precompiled","precompiled_charsmap":""}"#, "Precompiled"),
      (#","pre_tokenizer":{"type":"UnicodeScripts"}"#, "UnicodeScripts"),
      (#","decoder":{"type":"CTC"}"#, "CTC"),
      (
        #","pre_tokenizer":{"type":"Split","pattern":{"Regex":"\\p{Han}+"},"behavior":"Isolated","invert":false}"#,
        "Han"
      ),
    ] {
      do {
        _ = try Tokenizer(tokenizerJSON: minimal(model: bpe, extra: extra), config: nil)
        Issue.record("expected an error for \(word)")
      } catch {
        #expect("\(error)".contains(word), "\(error)")
      }
    }
  }

  @Test func badMergesAreReported() {
    let bad = #"{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]}"#
    #expect(throws: TokenizerError.self) {
      try Tokenizer(tokenizerJSON: minimal(model: bad), config: nil)
    }
  }

  /// Canonically equivalent tokens stay distinct: "é" (U+00E9) and "e\u{301}".
  @Test func canonicallyEquivalentTokensStayDistinct() throws {
    let model = """
      {"type":"WordLevel","vocab":{"\\u00e9":0,"e\\u0301":1,"<unk>":2},"unk_token":"<unk>"}
      """
    let tok = try Tokenizer(
      tokenizerJSON: minimal(model: model, extra: #","pre_tokenizer":{"type":"WhitespaceSplit"}"#),
      config: nil)
    #expect(try tok.encode("\u{e9} e\u{301}") == [0, 1])
    #expect(tok.tokenToId("\u{e9}") == 0)
    #expect(tok.tokenToId("e\u{301}") == 1)
    #expect(tok.idToToken(1).map { Array($0.unicodeScalars) } == Array("e\u{301}".unicodeScalars))
  }

  /// Random text of any scalars never crashes any family; byte-level ones round-trip.
  @Test(arguments: ["gpt2", "llama3", "qwen2", "llama2", "mistral", "bert"])
  func randomTextNeverCrashes(_ family: String) throws {
    let tok = try Tokenizer.load(from: Fixtures.url(family))
    // Seeded, so a failure reproduces and CI never turns red by chance.
    var rng = SeededGenerator(
      seed: family.unicodeScalars.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1.value) })
    let pools: [ClosedRange<UInt32>] = [
      0...0x7F, 0x80...0x7FF, 0x300...0x36F, 0x3000...0x9FFF, 0xAC00...0xD7A3, 0xE000...0xFFFF,
      0x1F300...0x1FAFF, 0x10000...0x10FFFF,
    ]
    for _ in 0..<150 {
      var s = String.UnicodeScalarView()
      for _ in 0..<Int.random(in: 0..<60, using: &rng) {
        let pool = pools.randomElement(using: &rng)!
        if let u = Unicode.Scalar(UInt32.random(in: pool, using: &rng)) { s.append(u) }
      }
      let text = String(s)
      let ids = try tok.encode(text)
      _ = tok.decode(ids, skipSpecialTokens: true)
      // Byte-level BPE reproduces its input (Qwen2 its NFC form, by the reference's Unicode
      // data: Foundation's newer tables order some combining marks differently). Compare
      // scalars: Swift `String ==` would call canonically equivalent strings equal.
      if family == "gpt2" || family == "qwen2" {
        let scalars = text.unicodeScalars.map(\.value)
        let expected = family == "qwen2" ? unicodeNormalize(scalars, .nfc) : scalars
        #expect(
          tok.decode(ids).unicodeScalars.map(\.value) == expected, "\(Fixtures.show(text))")
      }
    }
  }

  @Test func longInputs() throws {
    let tok = try Tokenizer.load(from: Fixtures.url("llama3"))
    let long = String(repeating: "x", count: 100_000) + String(repeating: " ", count: 50_000) + "y"
    let ids = try tok.encode(long, addSpecialTokens: false)
    #expect(tok.decode(ids) == long)
  }
}

/// SplitMix64, for reproducible random inputs.
struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
