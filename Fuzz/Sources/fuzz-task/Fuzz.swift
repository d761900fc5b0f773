import Evaluation
import Foundation
import FuzzSupport

/// Task files of every layout: the first byte picks a layout to force (or none, to detect it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  guard count > 0 else { return 0 }
  let formats: [TaskFormat?] = [nil] + TaskFormat.allCases
  let format = formats[Int(start[0]) % formats.count]
  let data = Data(bytes: start + 1, count: count - 1)
  _ = try? TaskFile.parse(data, path: "test.jsonl", format: format)
  return 0
}

@_cdecl("fuzz_task_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt
{
  runFuzzer(argc, argv, fuzz)
}
