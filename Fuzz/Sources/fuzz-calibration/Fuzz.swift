import Evaluation
import Foundation
import FuzzSupport

/// Calibration files, through the one parser analyze and prune stream with: the first byte picks
/// .jsonl (text or input_ids rows), .txt as one document, or .txt with one document per line,
/// the text field, and the block size the bytes arrive in (so lines split across blocks, as a
/// big file's do, are exercised too).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  guard count > 0 else { return 0 }
  let data = Data(bytes: start + 1, count: count - 1)
  let mode = start[0] % 3
  let blockSize = start[0] & 0x40 != 0 ? 1 + Int(start[0] >> 2 & 0x0F) : 1 << 20
  _ = try? CalibrationFile.documents(
    data, path: mode == 0 ? "calibration.jsonl" : "calibration.txt", lineDocuments: mode == 2,
    textField: start[0] & 0x80 != 0 ? "content" : "text", blockSize: blockSize)
  return 0
}

@_cdecl("fuzz_calibration_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt
{
  runFuzzer(argc, argv, fuzz)
}
