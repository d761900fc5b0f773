import Evaluation
import Foundation
import FuzzSupport

/// Calibration files: the first byte picks .jsonl (text or input_ids rows), .txt as one
/// document, or .txt with one document per line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  guard count > 0 else { return 0 }
  let data = Data(bytes: start + 1, count: count - 1)
  let mode = start[0] % 3
  _ = try? CalibrationFile.documents(
    data, path: mode == 0 ? "calibration.jsonl" : "calibration.txt", lineDocuments: mode == 2,
    textField: start[0] & 0x80 != 0 ? "content" : "text")
  return 0
}

@_cdecl("fuzz_calibration_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt
{
  runFuzzer(argc, argv, fuzz)
}
