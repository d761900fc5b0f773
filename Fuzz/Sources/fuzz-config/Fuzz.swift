import Foundation
import FuzzSupport
import Models

/// config.json through the public entry point every command reads it with.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  _ = try? Architectures.config(from: Data(bytes: start, count: count), path: "config.json")
  return 0
}

@_cdecl("fuzz_config_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt
{
  runFuzzer(argc, argv, fuzz)
}
