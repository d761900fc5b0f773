import Foundation
import Testing

@testable import Tokenizers

/// Normalization and regex classes must follow the reference library's Unicode data, not
/// Foundation's or the stdlib's (Unicode 17). Expected values recorded from Python tokenizers
/// 0.23.3; each case failed with Foundation's normalization or the stdlib's properties.
@Suite struct UnicodeTablesTests {
  func norm(_ form: UnicodeForm, _ s: [UInt32]) -> [UInt32] { unicodeNormalize(s, form) }

  @Test func supplementaryScalarFollowedByAMarkIsKept() {
    // Foundation turned these into U+1E30 (K WITH ACUTE) and A WITH ACUTE.
    for form in [UnicodeForm.nfc, .nfd, .nfkc, .nfkd] {
      #expect(norm(form, [0xE004B, 0x301]) == [0xE004B, 0x301])
      #expect(norm(form, [0x10041, 0x301]) == [0x10041, 0x301])
      #expect(norm(form, [0x61, 0x10041, 0x301, 0x62]) == [0x61, 0x10041, 0x301, 0x62])
    }
  }

  @Test func hangulComposesOnlyModernJamo() {
    #expect(norm(.nfc, [0x1108, 0x1176]) == [0x1108, 0x1176])  // V outside 1161...1175
    #expect(norm(.nfc, [0x1100, 0x1161]) == [0xAC00])
    #expect(norm(.nfc, [0x1112, 0x1175, 0x11C2]) == [0xD7A3])
    #expect(norm(.nfc, [0xAC00, 0x11A7]) == [0xAC00, 0x11A7])  // not a trailing consonant
    #expect(norm(.nfc, [0xAC01, 0x11A8]) == [0xAC01, 0x11A8])  // LVT takes no second T
    #expect(norm(.nfd, [0xD7A3]) == [0x1112, 0x1175, 0x11C2])
    #expect(norm(.nfkc, [0x3131]) == [0x1100])  // compatibility jamo
  }

  @Test func standardCasesStillHold() {
    #expect(norm(.nfc, [0x65, 0x301]) == [0xE9])
    #expect(norm(.nfd, [0xE9]) == [0x65, 0x301])
    #expect(norm(.nfc, [0x61, 0x316, 0x301, 0x300]) == [0xE1, 0x316, 0x300])
    #expect(norm(.nfd, [0x61, 0x301, 0x316]) == [0x61, 0x316, 0x301])  // canonical order
    #expect(norm(.nfkc, [0xFB01]) == [0x66, 0x69])
    #expect(norm(.nfkd, [0x1E9B, 0x323]) == [0x73, 0x323, 0x307])
    #expect(norm(.nfc, [0x1E9B, 0x323]) == [0x1E9B, 0x323])
    #expect(norm(.nfc, [0x958]) == [0x915, 0x93C])  // composition exclusion
    #expect(norm(.nfc, [0x344]) == [0x308, 0x301])  // non-starter decomposition
    #expect(norm(.nfc, [0x212B]) == [0xC5])  // singleton
    #expect(norm(.nfc, [0x41]) == [0x41])
  }

  @Test func recordedNormalizationDifferences() {
    // Sampled from a sweep of "a" + c + U+0301 + "b" where Foundation disagreed: marks whose
    // combining class or decomposition is newer than the reference's data stay as they are.
    for c: UInt32 in [0x7FD, 0x1DFA, 0xA82C, 0x10041] {
      #expect(norm(.nfc, [0x61, c, 0x301, 0x62]) == [0x61, c, 0x301, 0x62])
    }
    for c: UInt32 in [0x32FF, 0xA7F2] {
      #expect(norm(.nfkd, [0x61, c, 0x301, 0x62]) == [0x61, c, 0x301, 0x62])
    }
    for c: UInt32 in [0x11938, 0x1E4EC] {
      #expect(norm(.nfd, [0x61, c, 0x301, 0x62]) == [0x61, c, 0x301, 0x62])
    }
  }

  @Test func regexClassesFollowOniguruma() throws {
    func matchSet(_ pattern: String, _ cs: [UInt32]) throws -> [Bool] {
      let r = try OnigRegex(pattern)
      return cs.map { c in [c].withUnsafeBufferPointer { !r.matches(in: $0).isEmpty } }
    }
    // Letters, numbers and marks of Unicode 16/17 that Oniguruma's data does not have.
    #expect(
      try matchSet(#"\p{L}"#, [0x41, 0x31350, 0x88F, 0xC5C, 0x33479]) == [
        true, true, false, false, false,
      ])
    #expect(
      try matchSet(#"\p{N}"#, [0x31, 0x11F50, 0x11DE0, 0x16FF4]) == [true, true, false, false])
    #expect(
      try matchSet(#"\p{M}"#, [0x301, 0x11F00, 0x1ACF, 0x1E6EE]) == [true, true, false, false])
    // U+0295: Ll in Oniguruma's data, Lo in Unicode 17.
    #expect(try matchSet(#"\p{Ll}"#, [0x295]) == [true])
    #expect(try matchSet(#"\p{Lo}"#, [0x295]) == [false])
    #expect(kind(0x88F) & Kind.letter == 0)
    #expect(kind(0x33479) & Kind.letter == 0)
    #expect(kind(0x11DE0) & Kind.number == 0)
  }

  /// The full sweep: set STREAMLINE_UNICODE_SWEEP to the output of tools/sweep_unicode.py.
  @Test func unicodeSweep() throws {
    guard let path = ProcessInfo.processInfo.environment["STREAMLINE_UNICODE_SWEEP"] else { return }
    let text = try String(contentsOfFile: path, encoding: .utf8)
    func hexList(_ s: Substring) -> [UInt32] {
      s.isEmpty ? [] : s.split(separator: ",").map { UInt32($0, radix: 16)! }
    }
    let forms: [String: UnicodeForm] = ["nfc": .nfc, "nfd": .nfd, "nfkc": .nfkc, "nfkd": .nfkd]
    var expected: [String: [UInt32: [UInt32]]] = [:]
    var failures: [String] = []
    for line in text.split(separator: "\n") {
      let f = line.split(separator: "\t", omittingEmptySubsequences: false)
      switch f[0] {
      case "N":
        expected[String(f[1]), default: [:]][UInt32(f[2], radix: 16)!] = hexList(f[3])
      case "P":
        let input = hexList(f[2])
        let got = unicodeNormalize(input, forms[String(f[1])]!)
        if got != hexList(f[3]) { failures.append("\(f[1]) \(f[2]): \(got) expected \(f[3])") }
      case "R":
        let want = Set(
          f[2].split(separator: ",").flatMap { r -> ClosedRange<UInt32> in
            let b = r.split(separator: "-")
            return UInt32(b[0], radix: 16)!...UInt32(b[1], radix: 16)!
          })
        let all = (1..<UInt32(0x110000)).filter { $0 < 0xD800 || $0 > 0xDFFF }
        let regex = try OnigRegex(String(f[1]))
        let ms = all.withUnsafeBufferPointer { regex.matches(in: $0) }
        var got = Set<UInt32>()
        for m in ms { for i in m { got.insert(all[i]) } }
        let diff = got.symmetricDifference(want)
        if !diff.isEmpty {
          failures.append("\(f[1]): \(diff.count) differ, e.g. \(diff.sorted().prefix(5))")
        }
      default: break
      }
    }
    for (name, form) in forms {
      var n = 0
      for c in UInt32(1)..<0x110000 where c < 0xD800 || c > 0xDFFF {
        let input: [UInt32] = [0x61, c, 0x301, 0x62]
        let got = unicodeNormalize(input, form)
        if got != (expected[name]?[c] ?? input) {
          n += 1
          if n <= 5 { failures.append("\(name) U+\(String(c, radix: 16)): \(got)") }
        }
      }
      if n > 0 { failures.append("\(name): \(n) code points differ") }
    }
    #expect(failures.isEmpty, "\(failures.prefix(40))")
  }
}
