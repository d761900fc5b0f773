import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A failed file-system call in plain words ("no space left on device", "permission denied",
/// "is a directory"), so that what reaches the user is one line with the path, never a
/// Foundation error dump.
public enum FileSystemReason {
  /// The words for an `errno` value.
  public static func words(_ code: Int32) -> String {
    let text = String(cString: strerror(code))
    guard let first = text.first else { return "error \(code)" }
    // strerror capitalises its sentence; the reason follows a colon in our messages.
    return first.lowercased() + text.dropFirst()
  }

  /// The words for an error thrown by Foundation (or one of ours, which already has them).
  public static func words(_ error: Error) -> String {
    if let error = error as? CheckpointError { return error.description }
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError,
      underlying.domain == NSPOSIXErrorDomain
    {
      return words(Int32(underlying.code))
    }
    if ns.domain == NSPOSIXErrorDomain { return words(Int32(ns.code)) }
    if ns.domain == NSCocoaErrorDomain {
      switch CocoaError.Code(rawValue: ns.code) {
      case .fileWriteOutOfSpace: return words(ENOSPC)
      case .fileWriteNoPermission, .fileReadNoPermission: return words(EACCES)
      case .fileNoSuchFile, .fileReadNoSuchFile: return words(ENOENT)
      case .fileWriteFileExists: return words(EEXIST)
      case .fileWriteVolumeReadOnly: return words(EROFS)
      case .fileReadCorruptFile, .propertyListReadCorrupt: return "not valid JSON"
      case .fileReadInapplicableStringEncoding: return "not valid UTF-8"
      default: break
      }
    }
    let text = ns.localizedDescription.split(whereSeparator: \.isNewline).first.map(String.init)
    return text ?? "error \(ns.code)"
  }
}
