import Foundation
import Testing

@testable import Tokenizers

/// Numbers in tokenizer.json reach `Int32` conversions and allocation sizes; a hostile or
/// mistaken value must end in one error naming the file and the field.
@Suite struct HostileIntegerTests {
  /// A small BPE tokenizer with `patch` spliced in at the top level (or the model's fields).
  func tokenizer(top: String = "", model: String = "", vocab: String = "\"a\":0,\"b\":1")
    throws -> Tokenizer
  {
    let json = """
      {"added_tokens":[],\(top)"model":{"type":"BPE",\(model)"vocab":{\(vocab)},"merges":[]}}
      """
    return try Tokenizer(tokenizerJSON: Data(json.utf8), path: "hostile.json", config: nil)
  }

  func failure(_ body: () throws -> Any) -> String? {
    do {
      _ = try body()
      return nil
    } catch {
      return "\(error)"
    }
  }

  @Test(arguments: [
    ("\"padding\":{\"strategy\":{\"Fixed\":1e15},\"pad_id\":0},", "padding.strategy.Fixed"),
    ("\"padding\":{\"strategy\":{\"Fixed\":-4},\"pad_id\":0},", "padding.strategy.Fixed"),
    ("\"padding\":{\"strategy\":\"BatchLongest\",\"pad_id\":4294967296},", "padding.pad_id"),
    ("\"padding\":{\"pad_to_multiple_of\":-8},", "padding.pad_to_multiple_of"),
    ("\"truncation\":{\"max_length\":-1},", "truncation.max_length"),
    ("\"truncation\":{\"max_length\":1.5},", "truncation.max_length"),
    (
      "\"post_processor\":{\"type\":\"BertProcessing\",\"cls\":[\"a\",4294967296],\"sep\":[\"b\",1]},",
      "post_processor.cls"
    ),
    (
      "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[],\"special_tokens\":{\"a\":{\"ids\":[-1]}}},",
      "post_processor.special_tokens.ids"
    ),
    (
      "\"decoder\":{\"type\":\"Strip\",\"content\":\" \",\"start\":-1,\"stop\":0},", "decoder.start"
    ),
  ])
  func outOfRangeFieldsAreNamed(_ top: String, _ field: String) {
    let text = failure { try tokenizer(top: top) }
    #expect(text?.contains("hostile.json") == true)
    #expect(text?.contains(field) == true, "\(text ?? "no error")")
  }

  /// Ids near `Int32.max` would overflow the numbering of added tokens after the largest id.
  @Test func vocabularyIdsAreBounded() {
    let text = failure { try tokenizer(vocab: "\"a\":0,\"b\":2147483647") }
    #expect(text?.contains("model.vocab") == true)
    #expect(text?.contains("hostile.json") == true)
  }

  @Test func wordPieceWordLimitIsBounded() {
    let json = """
      {"model":{"type":"WordPiece","vocab":{"[UNK]":0,"a":1},"max_input_chars_per_word":-5}}
      """
    let text = failure {
      try Tokenizer(tokenizerJSON: Data(json.utf8), path: "wp.json", config: nil)
    }
    #expect(text?.contains("max_input_chars_per_word") == true)
  }

  /// Ids past `Int32` in `decode` are skipped, never converted.
  @Test func decodeSkipsIdsPastInt32() throws {
    let t = try tokenizer()
    #expect(t.decode([0, Int(Int32.max) + 1, -1, Int.max, 1]) == t.decode([0, 1]))
  }

  @Test func tokenizerConfigParsesFromBytes() throws {
    let config = try TokenizerConfig.parse(
      Data(#"{"bos_token":{"content":"<s>"},"eos_token":null,"add_bos_token":true}"#.utf8),
      path: "tokenizer_config.json")
    #expect(config.bosToken == "<s>" && config.eosToken == nil && config.addBosToken == true)
    #expect(throws: TokenizerError.self) {
      try TokenizerConfig.parse(Data("[1]".utf8), path: "tokenizer_config.json")
    }
  }
}
