import Evaluation
import Foundation
import FuzzSupport

/// Token-id files (`eval --token-ids`): ids separated by spaces or commas, or JSON arrays.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  _ = try? TokenIdsFile.parse(Data(bytes: start, count: count), path: "tokens.txt")
  return 0
}

@_cdecl("fuzz_token_ids_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt
{
  runFuzzer(argc, argv, fuzz)
}
