import Crypto
import Evaluation
import Foundation
import Models
import Tokenizers

/// How many sequences of each kind a streamed draw takes.
public struct CalibrationCounts: Sendable, Equatable {
  /// Scored sequences (block importance).
  public var scoring: Int
  /// Held-out sequences for the final perplexity, used by nothing else.
  public var evaluation: Int
  /// Sequences that train (or fit) the replacement.
  public var training: Int
  /// Sequences the pruned model heals on, after the replacement.
  public var healing: Int

  /// `prune`'s defaults, which `analyze --curve` shares so that its maps are fitted on the
  /// sequences `prune --replace linear` fits them on. 128 training sequences, not 64: with one
  /// calibration mix of two domains, 64 left SmolLM2-135M (7 of 30 layers) short of 60%
  /// recovered on held-out code (54%; 128 gives 61%) and training still improving at its last
  /// step; Gemma 3 270M (4 of 18) went from 77% / 83% to 83% / 88% (README, "Defaults,
  /// measured").
  public static let defaultTraining = 128
  public static let defaultEvaluation = 16
  /// Healing's sequences by default.
  public static let defaultHealing = 128

  public init(scoring: Int, evaluation: Int = 0, training: Int = 0, healing: Int = 0) {
    self.scoring = scoring
    self.evaluation = evaluation
    self.training = training
    self.healing = healing
  }

  public var total: Int { scoring + evaluation + training + healing }
}

/// Scoring, held-out and training sequences drawn from one calibration source in one stream.
public struct CalibrationDraw: Sendable {
  public let scoring: [[Int]]
  public let evaluation: [[Int]]
  public let training: [[Int]]
  public let healing: [[Int]]
  /// Sequences the source cuts into, and its tokens and documents.
  public let poolSequences: Int
  public let availableTokens: Int
  public let documents: Int
  /// SHA-256 of the input files' bytes and the cutting options (seq_len, seed, draw), not of the
  /// counts: shards and `prune` that share a source and seed share it.
  public let sha256: String
  public let description: String
}

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
    guard options.seqLen >= 2 else {
      throw StreamlineError.badRequest(
        "--seq-len is \(options.seqLen); it must be at least 2 (a sequence of one token predicts nothing)"
      )
    }
    guard counts.scoring >= 0, counts.evaluation >= 0, counts.training >= 0, counts.healing >= 0,
      counts.total > 0
    else { throw StreamlineError.badRequest("no calibration sequences asked for") }
    let files = try Calibration.inputFiles(options.path)
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
      throw StreamlineError.calibration(
        path: options.path,
        reason:
          "\(tokens) tokens make \(pool) sequences of \(seqLen), but \(counts.total) are asked for (\(counts.scoring) scored, \(counts.evaluation) held out, \(counts.training) training\(counts.healing > 0 ? ", \(counts.healing) healing" : ""); use fewer, a shorter --seq-len, or more text)"
      )
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
