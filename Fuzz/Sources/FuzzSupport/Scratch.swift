import Foundation

/// A scratch folder for targets whose parser reads files (safetensors is memory-mapped, a model
/// folder is listed), removed when the fuzzer exits. `STREAMLINE_FUZZ_SCRATCH` (set by
/// scripts/fuzz) puts it under the build folder instead of the system temporary directory.
public enum Scratch {
  public static let folder: URL = {
    let base =
      ProcessInfo.processInfo.environment["STREAMLINE_FUZZ_SCRATCH"].map {
        URL(fileURLWithPath: $0)
      } ?? FileManager.default.temporaryDirectory
    let url = base.appendingPathComponent("streamline-fuzz-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: Scratch.folder) }
    return url
  }()

  /// Writes `data` to `name` inside the scratch folder and returns its path.
  @discardableResult
  public static func write(_ data: Data, _ name: String, in folder: URL = folder) -> String {
    let url = folder.appendingPathComponent(name)
    try? data.write(to: url)
    return url.path
  }
}

/// The fuzz input cut at NUL bytes into at most `count` parts (the last keeps any further NULs):
/// lets one input carry a file and the text to run through it.
public func parts(_ data: Data, _ count: Int) -> [Data] {
  var out: [Data] = []
  var rest = data[...]
  while out.count < count - 1, let cut = rest.firstIndex(of: 0) {
    out.append(Data(rest[..<cut]))
    rest = rest[(cut + 1)...]
  }
  out.append(Data(rest))
  while out.count < count { out.append(Data()) }
  return out
}

/// Text from bytes, invalid UTF-8 repaired, as user input arrives.
public func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

/// libFuzzer's entry point for a program that has its own `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
  _ argc: UnsafeMutablePointer<CInt>,
  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
  _ body: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// Runs libFuzzer on `body`. SwiftPM links an executable target's `main` to a symbol named after
/// the module (`fuzz_tokenizer_main`), so each target defines that and hands over to libFuzzer
/// here instead of relying on libFuzzer's own `main`.
public func runFuzzer(
  _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
  _ body: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt {
  var count = argc
  var arguments = argv
  return LLVMFuzzerRunDriver(&count, &arguments, body)
}
