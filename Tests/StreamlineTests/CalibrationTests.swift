import Foundation
import Testing
import Tokenizers

@testable import Streamline

/// A class so that the one scratch folder of each test goes away with it (`deinit`).
@Suite final class CalibrationTests {
  let tokenizer: Tokenizer
  let folder = Fixtures.temporary("calibration")

  init() throws {
    tokenizer = try Tokenizer.load(
      from: Fixtures.root.appendingPathComponent("tokenizers/llama2/tokenizer.json"))
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(at: folder) }

  /// The streamed draw of `options.samples` scored sequences, the one way calibration is read.
  static func draw(_ options: CalibrationOptions, tokenizer: Tokenizer?, vocabularySize: Int)
    throws -> CalibrationDraw
  {
    try CalibrationStream.draw(
      options, counts: CalibrationCounts(scoring: options.samples), tokenizer: tokenizer,
      vocabularySize: vocabularySize)
  }

  func write(_ text: String, _ name: String) throws -> String {
    let file = folder.appendingPathComponent(name)
    try text.write(to: file, atomically: true, encoding: .utf8)
    return file.path
  }

  @Test func documentsAreJoinedWithEOSAndCut() throws {
    let path = try write("In the beginning\nGod created the heaven\n\nand the earth.\n", "c.txt")
    var options = CalibrationOptions(path: path)
    options.lineDocuments = true
    options.seqLen = 4
    options.samples = 2
    let set = try CalibrationTests.draw(options, tokenizer: tokenizer, vocabularySize: 1 << 20)
    var stream: [Int] = []
    for line in ["In the beginning", "God created the heaven", "and the earth."] {
      stream += try tokenizer.encode(line)
      if !tokenizer.addsEOS, let eos = tokenizer.eosTokenId { stream.append(eos) }
    }
    let pool = stride(from: 0, to: stream.count - 3, by: 4).map { Array(stream[$0..<($0 + 4)]) }
    #expect(set.scoring.count == 2)
    #expect(set.scoring.allSatisfy { pool.contains($0) })
    #expect(set.documents == 3)
    let again = try CalibrationTests.draw(options, tokenizer: tokenizer, vocabularySize: 1 << 20)
    #expect(again.scoring == set.scoring && again.sha256 == set.sha256)
    options.seed = 99
    let other = try CalibrationTests.draw(options, tokenizer: tokenizer, vocabularySize: 1 << 20)
    #expect(other.sha256 != set.sha256)
  }

  @Test func tooLittleTextSaysHowMuchThereIs() throws {
    let path = try write("just a few words", "short.txt")
    var options = CalibrationOptions(path: path)
    options.seqLen = 512
    let text = Fixtures.message {
      _ = try CalibrationTests.draw(options, tokenizer: tokenizer, vocabularySize: 1 << 20)
    }
    #expect(text?.contains("short.txt") == true)
    #expect(text?.contains("make 0 sequences of 512") == true)
  }

  @Test func emptyAndMalformedDataFailWithTheFile() throws {
    // A vocabulary the tokenizer's ids fit: the stream checks each line's ids as it reads it,
    // so a small one would refuse the good line before the broken one is reached.
    let empty = try write("\n\n", "empty.txt")
    #expect(
      Fixtures.message {
        _ = try CalibrationTests.draw(
          CalibrationOptions(path: empty), tokenizer: tokenizer, vocabularySize: 1 << 20)
      }?.contains("holds no calibration text") == true)
    let broken = try write("{\"text\": \"fine\"}\n{oops\n", "broken.jsonl")
    #expect(
      Fixtures.message {
        _ = try CalibrationTests.draw(
          CalibrationOptions(path: broken), tokenizer: tokenizer, vocabularySize: 1 << 20)
      } == "\(broken):2: not a JSON object")
    let noField = try write("{\"body\": \"x\"}\n", "nofield.jsonl")
    #expect(
      Fixtures.message {
        _ = try CalibrationTests.draw(
          CalibrationOptions(path: noField), tokenizer: tokenizer, vocabularySize: 1 << 20)
      }?.contains("\"text\" text field") == true)
    let text = try write("words", "plain.txt")
    #expect(
      Fixtures.message {
        _ = try CalibrationTests.draw(
          CalibrationOptions(path: text), tokenizer: nil, vocabularySize: 9)
      }?.contains("no tokenizer.json") == true)
    #expect(
      Fixtures.message {
        _ = try CalibrationTests.draw(
          CalibrationOptions(path: "/nonexistent.txt"), tokenizer: nil, vocabularySize: 9)
      }?.contains("no such file") == true)
  }

  @Test func tokenIdsOutsideTheVocabularyAreRefused() throws {
    let path = try write("{\"input_ids\": [1, 2, 300]}\n", "ids.jsonl")
    var options = CalibrationOptions(path: path)
    options.seqLen = 3
    options.samples = 1
    #expect(
      Fixtures.message {
        _ = try CalibrationTests.draw(options, tokenizer: nil, vocabularySize: 128)
      }?.contains("token id 300") == true)
  }
}
