import Foundation

@testable import Tokenizers

/// Fixtures written by tools/make_tokenizer_fixtures.py (Python `tokenizers` 0.23.3).
enum Fixtures {
  static let root: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/tokenizers")

  static func url(_ name: String) -> URL { root.appendingPathComponent(name) }

  static func json(_ name: String) throws -> Any {
    try JSONSerialization.jsonObject(
      with: Data(contentsOf: url(name)), options: [.fragmentsAllowed])
  }

  static let corpus: (hardCount: Int, strings: [String]) = {
    let obj = try! json("corpus.json") as! [String: Any]
    return (obj["hard_count"] as! Int, obj["strings"] as! [String])
  }()

  static var hardStrings: [String] { Array(corpus.strings.prefix(corpus.hardCount)) }

  struct Reference {
    var ids: [[Int]]
    var idsNoSpecial: [[Int]]
    var idsPlainSpecialText: [[Int]]
    var decoded: [String]
    var decodedSkipSpecial: [String]

    init(_ obj: [String: Any], strings: [String]) {
      func ints(_ v: Any) -> [Int] { (v as! [Any]).map { ($0 as! NSNumber).intValue } }
      ids = (obj["ids"] as! [Any]).map(ints)
      idsNoSpecial = zip(obj["ids_no_special"] as! [Any], ids).map { v, fallback in
        v is NSNull ? fallback : ints(v)
      }
      idsPlainSpecialText = zip(obj["ids_plain_special_text"] as! [Any], idsNoSpecial).map {
        v, fallback in v is NSNull ? fallback : ints(v)
      }
      decoded = zip(obj["decoded"] as! [Any], strings).map { v, s in v as? String ?? s }
      decodedSkipSpecial = zip(obj["decoded_skip_special"] as! [Any], decoded).map { v, s in
        v as? String ?? s
      }
    }
  }

  static func reference(_ family: String) throws -> Reference {
    let obj = try json("\(family)/reference.json") as! [String: Any]
    return Reference(obj, strings: corpus.strings)
  }

  /// Shows invisible characters in failure messages.
  static func show(_ s: String) -> String {
    s.unicodeScalars.map { u in
      u.value < 0x20 || (u.value >= 0x7F && u.value < 0xA0) || u.properties.isWhitespace
        ? String(format: "\\u{%X}", u.value) : String(u)
    }.joined()
  }
}
