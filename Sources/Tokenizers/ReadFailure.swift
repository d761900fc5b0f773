import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Why a file could not be read, in plain words ("permission denied"), instead of Foundation's
/// `Error Domain=NSCocoaErrorDomain Code=257 …` dump. (Tokenizers stands alone, so this is its
/// own small copy of Checkpoint's `FileSystemReason`.)
enum ReadFailure {
  static func words(_ error: Error) -> String {
    let ns = error as NSError
    var code: Int32?
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError,
      underlying.domain == NSPOSIXErrorDomain
    {
      code = Int32(underlying.code)
    } else if ns.domain == NSPOSIXErrorDomain {
      code = Int32(ns.code)
    } else if ns.domain == NSCocoaErrorDomain {
      switch CocoaError.Code(rawValue: ns.code) {
      case .fileReadNoPermission: code = EACCES
      case .fileNoSuchFile, .fileReadNoSuchFile: code = ENOENT
      default: break
      }
    }
    guard let code else { return "cannot read the file" }
    let text = String(cString: strerror(code))
    return text.prefix(1).lowercased() + text.dropFirst()
  }
}
