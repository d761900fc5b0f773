import Checkpoint
import Foundation
import FuzzSupport

/// A safetensors file: the header must be refused or describe tensors that lie inside the file,
/// and every accepted tensor must convert without reading outside its bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
  let path = Scratch.write(Data(bytes: start, count: count), "model.safetensors")
  guard let file = try? SafeTensorsFile(path: path) else { return 0 }
  for name in file.names {
    guard let info = try? file.info(name), info.dtype.isComputable,
      let bytes = try? file.bytes(name)
    else { continue }
    var out = [Float](repeating: 0, count: info.elementCount)
    out.withUnsafeMutableBufferPointer {
      Convert.toFloat(bytes, dtype: info.dtype, into: $0.baseAddress!)
    }
  }
  return 0
}

@_cdecl("fuzz_safetensors_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt
{
  runFuzzer(argc, argv, fuzz)
}
