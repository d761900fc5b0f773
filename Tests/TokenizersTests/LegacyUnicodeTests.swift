import Testing

@testable import Tokenizers

/// The reference library classifies punctuation, control characters and marks for BERT and
/// StripAccents with old Unicode tables (about Unicode 8), not the stdlib's. Characters assigned
/// or recategorised since then must be treated as it treats them. Expected values recorded from
/// Python tokenizers 0.23.3; found on the real all-MiniLM-L6-v2 tokenizer.json.
@Suite struct LegacyUnicodeTests {
  func bert(clean: Bool, strip: Bool) -> BertNormalizer {
    BertNormalizer(
      cleanText: clean, handleChineseChars: false, stripAccents: strip, lowercase: false)
  }

  @Test func bertPunctuationUsesTheReferenceTables() {
    #expect(isPunct(0x2C))  // ASCII ","
    #expect(isPunct(0x60C))  // ARABIC COMMA, old
    #expect(!isPunct(0x61D))  // ARABIC END OF TEXT MARK, Unicode 14 Po
    #expect(!isPunct(0x2E43))  // DASH WITH LEFT UPTURN, Unicode 9 Po
    #expect(isPunct(0x166D))  // CANADIAN SYLLABICS CHI SIGN: Po then, So now
    #expect(isPunct(0x111C9))  // SHARADA SANDHI MARK: Po then
    #expect(!isPunct(0x41))
  }

  @Test func bertCleanTextKeepsCharactersAssignedLater() {
    let n = bert(clean: true, strip: false)
    #expect(n.normalize([0x61, 0x890, 0x62]) == [0x61, 0x890, 0x62])  // Cf since Unicode 14
    #expect(n.normalize([0x61, 0x13430, 0x62]) == [0x61, 0x13430, 0x62])  // Cf since Unicode 12
    #expect(n.normalize([0x61, 0x200B, 0x62]) == [0x61, 0x62])
    #expect(n.normalize([0x61, 0xE0001, 0x62]) == [0x61, 0x62])
    #expect(n.normalize([0x61, 0xAD, 0x62]) == [0x61, 0x62])
  }

  @Test func bertStripAccentsUsesTheReferenceMarks() {
    let n = bert(clean: false, strip: true)
    #expect(n.normalize([0x61, 0x7FD, 0x62]) == [0x61, 0x7FD, 0x62])  // Mn since Unicode 11
    #expect(n.normalize([0x61, 0x1734, 0x62]) == [0x61, 0x62])  // Mn then, Mc now
    #expect(n.normalize([0x65, 0x301, 0x7FD]) == [0x65, 0x7FD])
  }

  @Test func stripAccentsUsesTheReferenceMarks() {
    let n = StripAccentsNormalizer()
    #expect(n.normalize([0x61, 0x1CF2, 0x62]) == [0x61, 0x62])  // Mc then, Lo now
    #expect(n.normalize([0x61, 0x897, 0x62]) == [0x61, 0x897, 0x62])  // Mn since Unicode 16
    #expect(n.normalize([0x61, 0x301, 0x62]) == [0x61, 0x62])
  }
}
