/// Line splitting for the line-based input files (task files, token ids, calibration and text
/// JSONL, `tokenize` input). Splits by Unicode scalars: a Swift `String` split at the Character
/// "\n" never splits "\r\n", which is one Character, so a file saved with Windows line ends
/// would read as one long line.
public enum TextLines {
  /// The lines of `text`, split at "\n" with a trailing "\r" removed; a final line break does
  /// not start an empty last line, and empty text is one empty line.
  public static func split(_ text: String) -> [String] {
    var lines: [String] = []
    var current = String.UnicodeScalarView()
    for u in text.unicodeScalars {
      if u == "\n" {
        if current.last == "\r" { current.removeLast() }
        lines.append(String(current))
        current = String.UnicodeScalarView()
      } else {
        current.append(u)
      }
    }
    if !current.isEmpty || lines.isEmpty {
      if current.last == "\r" { current.removeLast() }
      lines.append(String(current))
    }
    return lines
  }
}
