import Foundation
import Testing

@testable import Tokenizers

/// Exact parity with the Python `tokenizers` library on trained tokenizers of each family.
@Suite struct ParityTests {
  static let families = ["gpt2", "llama3", "qwen2", "llama2", "mistral", "bert"]

  func check(_ tok: Tokenizer, _ ref: Fixtures.Reference, _ strings: [String], _ label: String)
    throws
  {
    var failures = 0
    for (i, s) in strings.enumerated() {
      let ids = try tok.encode(s, addSpecialTokens: true)
      let without = try tok.encode(s, addSpecialTokens: false)
      tok.specialTokenTextIsPlain = true
      let plain = try tok.encode(s, addSpecialTokens: false)
      tok.specialTokenTextIsPlain = false
      let decoded = tok.decode(ref.ids[i], skipSpecialTokens: false)
      let skipped = tok.decode(ref.ids[i], skipSpecialTokens: true)
      let ok =
        ids == ref.ids[i] && without == ref.idsNoSpecial[i] && plain == ref.idsPlainSpecialText[i]
        && decoded == ref.decoded[i] && skipped == ref.decodedSkipSpecial[i]
      if !ok {
        failures += 1
        if failures <= 5 {
          Issue.record(
            """
            \(label) #\(i) \(Fixtures.show(s))
              ids \(ids == ref.ids[i]) \(ids)
                  ref \(ref.ids[i])
              no-special \(without == ref.idsNoSpecial[i]) \(without) ref \(ref.idsNoSpecial[i])
              plain \(plain == ref.idsPlainSpecialText[i]) \(plain) ref \(ref.idsPlainSpecialText[i])
              decoded \(decoded == ref.decoded[i]) \(Fixtures.show(decoded)) ref \(Fixtures.show(ref.decoded[i]))
              skip \(skipped == ref.decodedSkipSpecial[i]) \(Fixtures.show(skipped)) ref \(Fixtures.show(ref.decodedSkipSpecial[i]))
            """)
        }
      }
    }
    #expect(failures == 0, "\(label): \(failures) of \(strings.count) strings differ")
  }

  @Test(arguments: families)
  func family(_ name: String) throws {
    let tok = try Tokenizer.load(from: Fixtures.url(name))
    let ref = try Fixtures.reference(name)
    try check(tok, ref, Fixtures.corpus.strings, name)
  }

  @Test func variants() throws {
    let variants = try Fixtures.json("variants.json") as! [[String: Any]]
    #expect(variants.count > 5)
    for v in variants {
      let name = v["name"] as! String
      let base = v["base"] as! String
      var spec =
        try JSONSerialization.jsonObject(
          with: Data(contentsOf: Fixtures.url("\(base)/tokenizer.json"))) as! [String: Any]
      for (k, val) in v["override"] as! [String: Any] { spec[k] = val }
      let data = try JSONSerialization.data(withJSONObject: spec)
      let tok = try Tokenizer(tokenizerJSON: data, path: name, config: nil)
      let strings = Fixtures.hardStrings
      let ref = Fixtures.Reference(v["reference"] as! [String: Any], strings: strings)
      try check(tok, ref, strings, name)
    }
  }

  @Test func specialTokenIdsFromConfig() throws {
    let llama2 = try Tokenizer.load(from: Fixtures.url("llama2"))
    #expect(llama2.bosTokenId == llama2.tokenToId("<s>"))
    #expect(llama2.eosTokenId == llama2.tokenToId("</s>"))
    #expect(llama2.unkTokenId == 0)
    #expect(llama2.padTokenId == nil)
    #expect(llama2.addsBOS && !llama2.addsEOS)
    #expect(llama2.config?.addBosToken == true)
    #expect(llama2.config?.addEosToken == false)

    let bert = try Tokenizer.load(from: Fixtures.url("bert"))
    #expect(bert.padTokenId == bert.tokenToId("[PAD]"))
    #expect(bert.unkTokenId == bert.tokenToId("[UNK]"))

    let qwen = try Tokenizer.load(from: Fixtures.url("qwen2/tokenizer.json"))
    #expect(qwen.eosTokenId == qwen.tokenToId("<|im_end|>"))
    #expect(qwen.bosTokenId == nil)
    #expect(!qwen.addsBOS)

    let llama3 = try Tokenizer.load(from: Fixtures.url("llama3"))
    #expect(llama3.bosTokenId == llama3.tokenToId("<|begin_of_text|>"))
    #expect(llama3.addsBOS)
  }

  @Test func tokenLookups() throws {
    let tok = try Tokenizer.load(from: Fixtures.url("gpt2"))
    let id = try #require(tok.tokenToId("<|endoftext|>"))
    #expect(tok.idToToken(id) == "<|endoftext|>")
    #expect(tok.idToToken(-1) == nil)
    #expect(tok.idToToken(10_000_000) == nil)
    #expect(tok.tokenToId("definitely not a token") == nil)
    #expect(tok.vocabularySize == 1201)
    #expect(tok.decode([-5, 10_000_000]) == "")
  }

  @Test func batchEncodeMatchesSingle() throws {
    let tok = try Tokenizer.load(from: Fixtures.url("llama3"))
    let texts = Fixtures.corpus.strings
    let batch = try tok.encodeBatch(texts)
    for (t, ids) in zip(texts, batch) { #expect(try tok.encode(t) == ids) }
  }
}

/// Literal ids printed by the Python library, independent of the fixture-reading code.
@Test func literalReferenceIds() throws {
  let llama2 = try Tokenizer.load(from: Fixtures.url("llama2"))
  #expect(
    try llama2.encode("Hello <s> wörld 😀")
      == [1, 1045, 681, 916, 505, 1, 505, 717, 927, 334, 326, 505, 243, 162, 155, 131])
  let llama3 = try Tokenizer.load(from: Fixtures.url("llama3"))
  #expect(
    try llama3.encode("Hello <|eot_id|> wörld 😀   x <mask>  y")
      == [0, 42, 291, 590, 223, 2, 334, 612, 78, 70, 223, 175, 256, 249, 225, 260, 632, 1200, 91])
}
