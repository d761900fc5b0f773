import Foundation

/// Recognises pickle-based checkpoints (`pytorch_model.bin`, `.pt`, `.pth`, `.ckpt`, `.pkl`)
/// by name and by content, so they are refused before anything reads them.
public enum PickleGuard {
  public static let suffixes = [".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"]

  public static func hasPickleName(_ path: String) -> Bool {
    let lower = path.lowercased()
    return suffixes.contains { lower.hasSuffix($0) }
  }

  /// True for a pickle name, or for content that starts like a pickle (the PROTO opcode 0x80
  /// and a protocol number 2–5) or a PyTorch zip archive ("PK\u{3}\u{4}") and is not a
  /// safetensors file. Only the first 9 bytes are read. A safetensors file starts with its header
  /// length, whose low byte can be 0x80 (a 128-byte header), so its `{` at byte 8 wins.
  public static func isPickle(path: String) -> Bool {
    if hasPickleName(path) { return true }
    // Never open a FIFO or device to sniff it: the open blocks.
    guard (try? InputFile.requireRegular(path)) != nil else { return false }
    guard let handle = FileHandle(forReadingAtPath: path) else { return false }
    defer { try? handle.close() }
    let head = [UInt8]((try? handle.read(upToCount: 9)) ?? Data())
    return looksLikePickle(head)
  }

  /// The content test of `isPickle`, on a file's first bytes.
  public static func looksLikePickle(_ head: [UInt8]) -> Bool {
    if head.count >= 9 && head[8] == UInt8(ascii: "{") { return false }
    if head.count >= 2 && head[0] == 0x80 && (2...5).contains(head[1]) { return true }
    return head.starts(with: [0x50, 0x4B, 0x03, 0x04])
  }
}
