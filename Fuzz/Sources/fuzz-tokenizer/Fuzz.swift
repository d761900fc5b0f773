import Foundation
import FuzzSupport
import Tokenizers

/// tokenizer.json, then text encoded and decoded with it: `tokenizer.json NUL text`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let input = parts(Data(bytes: start, count: count), 2)
  guard let tokenizer = try? Tokenizer(tokenizerJSON: input[0], config: nil) else { return 0 }
  let sample = text(input[1])
  for special in [true, false] {
    if let ids = try? tokenizer.encode(sample, addSpecialTokens: special) {
      _ = tokenizer.decode(ids, skipSpecialTokens: special)
    }
  }
  _ = tokenizer.vocabularySize
  return 0
}

@_cdecl("fuzz_tokenizer_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt
{
  runFuzzer(argc, argv, fuzz)
}
