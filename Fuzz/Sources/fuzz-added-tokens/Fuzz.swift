import Foundation
import FuzzSupport
import Tokenizers

/// Added and special tokens: `added_tokens array NUL tokenizer_config.json NUL text`, the array
/// spliced into a small byte-level BPE tokenizer, the config read as tokenizer_config.json.
let base = """
  {"version":"1.0","truncation":null,"padding":null,"added_tokens":ADDED,
  "normalizer":{"type":"NFC"},"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,
  "trim_offsets":true,"use_regex":true},
  "post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},
  {"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{"<s>":{"id":"<s>","ids":[0],
  "tokens":["<s>"]}}},"decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,
  "use_regex":true},"model":{"type":"BPE","dropout":null,"unk_token":null,
  "continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,
  "byte_fallback":false,"ignore_merges":false,"vocab":{"<s>":0,"</s>":1,"a":2,"b":3,"Ġ":4,
  "ab":5,"Ġa":6},"merges":["a b","Ġ a"]}}
  """

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let input = parts(Data(bytes: start, count: count), 3)
  let added = text(input[0])
  let json = Data(base.replacingOccurrences(of: "ADDED", with: added.isEmpty ? "[]" : added).utf8)
  let config = try? TokenizerConfig.parse(input[1], path: "tokenizer_config.json")
  guard let tokenizer = try? Tokenizer(tokenizerJSON: json, config: config) else { return 0 }
  let sample = text(input[2])
  for plain in [false, true] {
    tokenizer.specialTokenTextIsPlain = plain
    if let ids = try? tokenizer.encode(sample, addSpecialTokens: !plain) {
      _ = tokenizer.decode(ids, skipSpecialTokens: plain)
    }
  }
  for id in [
    tokenizer.bosTokenId, tokenizer.eosTokenId, tokenizer.padTokenId, tokenizer.unkTokenId,
  ] {
    if let id { _ = tokenizer.idToToken(id) }
  }
  _ = tokenizer.vocabularySize
  return 0
}

@_cdecl("fuzz_added_tokens_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt
{
  runFuzzer(argc, argv, fuzz)
}
