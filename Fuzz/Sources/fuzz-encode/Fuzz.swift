import Foundation
import FuzzSupport
import Tokenizers

/// Fuzzed text through each real tokenizer of the test fixtures (byte-level BPE, SentencePiece
/// BPE with byte fallback, WordPiece), loaded once; the first byte picks the tokenizer.
let tokenizers: [Tokenizer] = {
  let root = ProcessInfo.processInfo.environment["STREAMLINE_FIXTURES"] ?? "Tests/Fixtures"
  return ["gpt2", "llama2", "llama3", "mistral", "qwen2", "bert", "bpe_prefix_suffix"].compactMap {
    try? Tokenizer.load(from: URL(fileURLWithPath: "\(root)/tokenizers/\($0)"))
  }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  guard count > 0, !tokenizers.isEmpty else { return 0 }
  let tokenizer = tokenizers[Int(start[0]) % tokenizers.count]
  let sample = text(Data(bytes: start + 1, count: count - 1))
  tokenizer.specialTokenTextIsPlain = start[0] & 0x80 != 0
  if let ids = try? tokenizer.encode(sample, addSpecialTokens: start[0] & 0x40 != 0) {
    _ = tokenizer.decode(ids, skipSpecialTokens: start[0] & 0x20 != 0)
    for id in ids.prefix(16) { _ = tokenizer.idToToken(id) }
  }
  // Ids from the input itself, as `eval --token-ids` could hand them over.
  let raw = (0..<(count - 1) / 4).map { i -> Int in
    Int(
      Int32(
        bitPattern: UInt32(
          littleEndian: UnsafeRawPointer(start + 1 + 4 * i).loadUnaligned(as: UInt32.self))))
  }
  _ = tokenizer.decode(raw)
  return 0
}

@_cdecl("fuzz_encode_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt
{
  runFuzzer(argc, argv, fuzz)
}
