import Crypto
import Evaluation
import Foundation
import Models
import Tokenizers

/// Streams a calibration source of any size: files are read a line (a `.jsonl` record, or a
/// `--line-docs` line) at a time, each document tokenized, joined with EOS and cut into
/// `seqLen`-token sequences as it comes, and only the drawn sequences are kept.
///
/// The draw: sequence number p of the source (in reading order; a `.jsonl` row of exactly
/// `seqLen` input_ids is one sequence as it is) gets the priority `SplitMix(seed ^ p·φ).next()`
/// (φ = 0x9E3779B97F4A7C15). The `counts.total` sequences of lowest priority are kept (a bounded
/// heap: memory is the kept sequences' token ids, whatever the source's size), which is a
/// uniform draw without replacement, reproducible for a seed. By rank of priority, the first
/// `scoring` are scored, the next `evaluation` are held out for perplexity and the rest train;
/// each set is returned in source order. The scored set depends only on the seed and `scoring`,
/// so it stays the same when the training budget changes, and the three sets never overlap.
/// A `.txt` file without `--line-docs` is one document and is read whole.
public enum CalibrationStream {
  public static let drawName = "bottom-k splitmix v1"

  /// The priority of sequence `index` of the source.
  public static func priority(_ index: Int, seed: UInt64) -> UInt64 {
    var generator = SplitMix(seed: seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
    return generator.next()
  }

  public static func draw(
    _ options: CalibrationOptions, counts: CalibrationCounts, tokenizer: Tokenizer?,
    vocabularySize: Int, progress: Progress? = nil
  ) throws -> CalibrationDraw {
    guard options.seqLen >= 2 else { throw StreamlineError.sequenceLength(options.seqLen) }
    guard counts.scoring >= 0, counts.evaluation >= 0, counts.training >= 0, counts.healing >= 0,
      counts.total > 0
    else { throw StreamlineError.badRequest("no calibration sequences asked for") }
    let files = try inputFiles(options.path)
    let seqLen = options.seqLen
    var hasher = SHA256()
    var heap = KeptSequences(capacity: counts.total)
    var pool = 0
    var tokens = 0
    var documents = 0
    var stream: [Int] = []

    func offer(_ ids: ArraySlice<Int>) {
      heap.offer(priority: priority(pool, seed: options.seed), index: pool, tokens: Array(ids))
      pool += 1
    }
    func check(_ ids: [Int], _ place: String) throws {
      if let bad = ids.first(where: { $0 < 0 || $0 >= vocabularySize }) {
        throw StreamlineError.calibration(
          path: place,
          reason: "token id \(bad) is outside the model's vocabulary (0..<\(vocabularySize))")
      }
    }
    func add(text: String, place: String) throws {
      guard let tokenizer else {
        throw StreamlineError.calibration(
          path: options.path,
          reason: "is text, but the model folder has no tokenizer.json to tokenize it with")
      }
      var ids = try tokenizer.encode(text, addSpecialTokens: true)
      if !tokenizer.addsEOS, let eos = tokenizer.eosTokenId { ids.append(eos) }
      try check(ids, place)
      append(ids)
    }
    func append(_ ids: [Int]) {
      documents += 1
      tokens += ids.count
      stream += ids
      var start = 0
      while stream.count - start >= seqLen {
        offer(stream[start..<(start + seqLen)])
        start += seqLen
      }
      stream.removeFirst(start)
    }

    for (f, file) in files.enumerated() {
      defer { progress?.update(f + 1, of: files.count, amount: Double(tokens)) }
      // The one calibration parser (Evaluation's `CalibrationFile`), streamed: strict about
      // every id, and never holding more than a line of a line-based file.
      try CalibrationFile.read(
        path: file, lineDocuments: options.lineDocuments, textField: options.textField,
        bytes: { hasher.update(data: $0) }
      ) { document, place in
        switch document {
        case .ids(let ids):
          try check(ids, place)
          if ids.count == seqLen {
            documents += 1
            tokens += ids.count
            offer(ids[...])
          } else {
            append(ids)
          }
        case .text(let text):
          try add(text: text, place: place)
        }
      }
    }
    hasher.update(
      data: Data(
        "seq_len=\(seqLen) seed=\(options.seed) line_docs=\(options.lineDocuments) field=\(options.textField) draw=\(drawName)"
          .utf8))
    guard documents > 0 else {
      throw StreamlineError.calibration(path: options.path, reason: "holds no calibration text")
    }
    guard pool >= counts.total else {
      throw StreamlineError.tooFewCalibrationSequences(
        path: options.path, tokens: tokens, sequences: pool, seqLen: seqLen, counts: counts)
    }
    let ranked = heap.sortedByPriority()
    func set(_ range: Range<Int>) -> [[Int]] {
      ranked[range].sorted { $0.index < $1.index }.map(\.tokens)
    }
    let s = counts.scoring
    let e = s + counts.evaluation
    let t = e + counts.training
    let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
    let kinds =
      "\(counts.scoring) scored, \(counts.evaluation) held-out"
      + (counts.healing > 0
        ? ", \(counts.training) training and \(counts.healing) healing"
        : " and \(counts.training) training")
    return CalibrationDraw(
      scoring: set(0..<s), evaluation: set(s..<e), training: set(e..<t),
      healing: set(t..<ranked.count), poolSequences: pool, availableTokens: tokens,
      documents: documents, sha256: digest,
      description:
        "\(kinds) sequences × \(seqLen) tokens drawn with seed \(options.seed) from \(options.path) (\(tokens) tokens in \(documents) documents, \(pool) sequences)"
    )
  }

  /// The calibration files: the path itself, or the `.txt` and `.jsonl` files of a folder.
  static func inputFiles(_ path: String) throws -> [String] {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
      throw StreamlineError.calibration(path: path, reason: "no such file or folder")
    }
    guard isFolder.boolValue else {
      guard path.hasSuffix(".txt") || path.hasSuffix(".jsonl") else {
        throw StreamlineError.calibration(
          path: path, reason: "calibration data must be a .txt or .jsonl file, or a folder of them")
      }
      return [path]
    }
    let url = URL(fileURLWithPath: path)
    let names = (try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? []
    let files = names.filter { $0.hasSuffix(".txt") || $0.hasSuffix(".jsonl") }.sorted()
      .map { url.appendingPathComponent($0).path }
    guard !files.isEmpty else {
      throw StreamlineError.calibration(path: path, reason: "holds no .txt or .jsonl files")
    }
    return files
  }
}

/// The `capacity` offered items of lowest priority (ties: lower index), as a max-heap.
struct KeptSequences {
  struct Item {
    let priority: UInt64
    let index: Int
    let tokens: [Int]
    func precedes(_ other: Item) -> Bool { (priority, index) < (other.priority, other.index) }
  }
  let capacity: Int
  var items: [Item] = []

  init(capacity: Int) { self.capacity = capacity }

  mutating func offer(priority: UInt64, index: Int, tokens: @autoclosure () -> [Int]) {
    if items.count < capacity {
      items.append(Item(priority: priority, index: index, tokens: tokens()))
      var child = items.count - 1
      while child > 0 {
        let parent = (child - 1) / 2
        guard items[parent].precedes(items[child]) else { break }
        items.swapAt(parent, child)
        child = parent
      }
      return
    }
    guard capacity > 0, Item(priority: priority, index: index, tokens: []).precedes(items[0])
    else { return }
    items[0] = Item(priority: priority, index: index, tokens: tokens())
    var parent = 0
    while true {
      let left = 2 * parent + 1
      let right = left + 1
      var largest = parent
      if left < items.count && items[largest].precedes(items[left]) { largest = left }
      if right < items.count && items[largest].precedes(items[right]) { largest = right }
      if largest == parent { break }
      items.swapAt(parent, largest)
      parent = largest
    }
  }

  func sortedByPriority() -> [Item] { items.sorted { $0.precedes($1) } }
}
