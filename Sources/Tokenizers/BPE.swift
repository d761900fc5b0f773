import Foundation

/// Byte-pair encoding with the semantics of the Rust `BPE` model: merges applied lowest rank
/// first (leftmost on ties), `byte_fallback` to `<0xXX>` tokens, `unk_token` with `fuse_unk`,
/// `continuing_subword_prefix`, `end_of_word_suffix`, `ignore_merges`. `dropout` is ignored
/// (inference never drops merges).
final class BPEModel: TokenizerModel {
  let vocabulary: Vocabulary
  /// (left id << 32 | right id) → (rank << 32 | new id)
  private var merges: [UInt64: UInt64] = [:]
  let unk: [UInt32]?
  let unkId: Int32?
  let prefix: [UInt32]?
  let suffix: [UInt32]?
  let fuseUnk: Bool
  let byteFallback: Bool
  let ignoreMerges: Bool
  private var byteTokens: [Int32] = []  // id of "<0xXX>" or -1
  let path: String

  private let cacheLock = NSLock()
  private var cache: [ScalarKey: [Int32]] = [:]
  private static let cacheCapacity = 10_000
  private static let maxCachedLength = 256

  init(_ l: Loader, _ j: JSON) throws {
    path = l.path
    let vocab = try l.vocabulary(j["vocab"], field: "model.vocab")
    vocabulary = vocab
    let unkScalars = j["unk_token"]?.stringValue.map(scalarsOf)
    unk = unkScalars
    unkId = unkScalars.flatMap { vocab.id($0) }
    prefix = j["continuing_subword_prefix"]?.stringValue.map(scalarsOf)
    suffix = j["end_of_word_suffix"]?.stringValue.map(scalarsOf)
    fuseUnk = j["fuse_unk"]?.boolValue ?? false
    byteFallback = j["byte_fallback"]?.boolValue ?? false
    ignoreMerges = j["ignore_merges"]?.boolValue ?? false
    if byteFallback {
      byteTokens = (0..<256).map { b in
        vocab.id(scalarsOf(String(format: "<0x%02X>", b))) ?? -1
      }
    }
    guard let list = j["merges"]?.arrayValue else {
      throw TokenizerError.invalidField(
        path: path, field: "model.merges", reason: "expected an array")
    }
    let prefixLen = prefix?.count ?? 0
    merges.reserveCapacity(list.count)
    var rank: UInt64 = 0
    for (n, m) in list.enumerated() {
      var a: [UInt32]
      var b: [UInt32]
      if let bytes = m.bytesValue {
        if bytes.starts(with: Array("#version".utf8)) { continue }
        let parts = bytes.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 2 else {
          throw TokenizerError.invalidField(
            path: path, field: "model.merges[\(n)]",
            reason: "expected two tokens separated by one space")
        }
        a = decodeScalars(Array(parts[0]))
        b = decodeScalars(Array(parts[1]))
      } else if let pair = m.arrayValue, pair.count == 2, let x = pair[0].bytesValue,
        let y = pair[1].bytesValue
      {
        a = decodeScalars(x)
        b = decodeScalars(y)
      } else {
        throw TokenizerError.invalidField(
          path: path, field: "model.merges[\(n)]", reason: "expected \"a b\" or [\"a\", \"b\"]")
      }
      guard let ia = vocab.id(a) else { throw BPEModel.mergeError(l.path, n, a) }
      guard let ib = vocab.id(b) else { throw BPEModel.mergeError(l.path, n, b) }
      let merged = a + b.dropFirst(min(prefixLen, b.count))
      guard let inew = vocab.id(merged) else { throw BPEModel.mergeError(l.path, n, merged) }
      merges[UInt64(UInt32(ia)) << 32 | UInt64(UInt32(ib))] = rank << 32 | UInt64(UInt32(inew))
      rank += 1
    }
  }

  private func mergeError(_ n: Int, _ t: [UInt32]) -> TokenizerError {
    BPEModel.mergeError(path, n, t)
  }

  private static func mergeError(_ path: String, _ n: Int, _ t: [UInt32]) -> TokenizerError {
    .invalidField(
      path: path, field: "model.merges[\(n)]",
      reason: "token \(stringFrom(scalars: t).debugDescription) is not in the vocabulary")
  }

  func tokenize(_ word: [UInt32], into out: inout [Int32]) throws {
    if word.isEmpty { return }
    if ignoreMerges, let id = vocabulary.id(word) {
      out.append(id)
      return
    }
    let key = ScalarKey(word)
    cacheLock.lock()
    let hit = cache[key]
    cacheLock.unlock()
    if let hit {
      out.append(contentsOf: hit)
      return
    }
    let ids = try mergeWord(word)
    if word.count < BPEModel.maxCachedLength {
      cacheLock.lock()
      if cache.count < BPEModel.cacheCapacity { cache[key] = ids }
      cacheLock.unlock()
    }
    out.append(contentsOf: ids)
  }

  private func unkOrThrow() throws -> Int32 {
    guard let u = unkId else {
      throw TokenizerError.missingToken(
        path: path, token: stringFrom(scalars: unk ?? []), reason: "BPE unk_token")
    }
    return u
  }

  /// The initial symbols of a word (one per scalar, with prefix / suffix, byte fallback, unk).
  private func initialSymbols(_ w: [UInt32]) throws -> [Int32] {
    var syms: [Int32] = []
    syms.reserveCapacity(w.count)
    var pendingUnk: Int32? = nil
    var piece: [UInt32] = []
    for (i, c) in w.enumerated() {
      let first = i == 0
      let last = i == w.count - 1
      var id: Int32?
      if (first || prefix == nil) && (!last || suffix == nil) {
        if c < 0x10000 {
          let v = vocabulary.singleScalar[Int(c)]
          id = v >= 0 ? v : nil
        } else {
          id = vocabulary.id([c])
        }
        if id == nil { piece = [c] }
      } else {
        piece.removeAll(keepingCapacity: true)
        if !first, let p = prefix { piece.append(contentsOf: p) }
        piece.append(c)
        if last, let s = suffix { piece.append(contentsOf: s) }
        id = vocabulary.id(piece)
      }
      if let id {
        if let u = pendingUnk {
          syms.append(u)
          pendingUnk = nil
        }
        syms.append(id)
        continue
      }
      if byteFallback {
        var bytes: [UInt8] = []
        for s in piece { appendUTF8(s, to: &bytes) }
        if bytes.allSatisfy({ byteTokens[Int($0)] >= 0 }) {
          for b in bytes { syms.append(byteTokens[Int(b)]) }
          continue
        }
      }
      if unk != nil {
        let u = try unkOrThrow()
        if pendingUnk != nil && !fuseUnk { syms.append(pendingUnk!) }
        pendingUnk = u
      }
    }
    if let u = pendingUnk { syms.append(u) }
    return syms
  }

  @inline(__always)
  private func merge(_ a: Int32, _ b: Int32) -> UInt64? {
    merges[UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))]
  }

  func mergeWord(_ w: [UInt32]) throws -> [Int32] {
    var syms = try initialSymbols(w)
    if syms.count < 2 { return syms }
    if syms.count > 64 { return mergeWithHeap(syms) }
    // Short words: keep each adjacent pair's (rank, new id) and merge the lowest, leftmost.
    let none = UInt64.max
    var pairs = [UInt64](repeating: none, count: syms.count - 1)
    for i in 0..<(syms.count - 1) { pairs[i] = merge(syms[i], syms[i + 1]) ?? none }
    while true {
      var best = none
      var at = -1
      for i in 0..<pairs.count where pairs[i] >> 32 < best >> 32 {
        best = pairs[i]
        at = i
      }
      if at < 0 { break }
      syms[at] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
      syms.remove(at: at + 1)
      pairs.remove(at: at)
      if at > 0 { pairs[at - 1] = merge(syms[at - 1], syms[at]) ?? none }
      if at < pairs.count { pairs[at] = merge(syms[at], syms[at + 1]) ?? none }
    }
    return syms
  }

  /// The Rust algorithm: a priority queue of (rank, position) over a linked list of symbols.
  private func mergeWithHeap(_ initial: [Int32]) -> [Int32] {
    var c = initial
    let n = c.count
    var prev = Array(-1..<(n - 1))
    var next = Array(1...n)
    next[n - 1] = -1
    var alive = [Bool](repeating: true, count: n)
    var heap = MinHeap()
    for i in 0..<(n - 1) {
      if let m = merge(c[i], c[i + 1]) { heap.push(rank: m >> 32, pos: i, newId: m) }
    }
    while let top = heap.pop() {
      let p = top.pos
      guard alive[p], next[p] >= 0 else { continue }
      let q = next[p]
      guard let m = merge(c[p], c[q]), m & 0xFFFF_FFFF == top.newId & 0xFFFF_FFFF else {
        continue
      }
      c[p] = Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)
      alive[q] = false
      next[p] = next[q]
      if next[q] >= 0 { prev[next[q]] = p }
      if prev[p] >= 0, let m2 = merge(c[prev[p]], c[p]) {
        heap.push(rank: m2 >> 32, pos: prev[p], newId: m2)
      }
      if next[p] >= 0, let m3 = merge(c[p], c[next[p]]) {
        heap.push(rank: m3 >> 32, pos: p, newId: m3)
      }
    }
    var out: [Int32] = []
    for i in 0..<n where alive[i] { out.append(c[i]) }
    return out
  }
}

/// Binary min-heap ordered by (rank, position).
struct MinHeap {
  struct Entry {
    var rank: UInt64
    var pos: Int
    var newId: UInt64
    @inline(__always) func less(_ o: Entry) -> Bool {
      rank != o.rank ? rank < o.rank : pos < o.pos
    }
  }
  var items: [Entry] = []

  mutating func push(rank: UInt64, pos: Int, newId: UInt64) {
    items.append(Entry(rank: rank, pos: pos, newId: newId))
    var i = items.count - 1
    while i > 0 {
      let parent = (i - 1) / 2
      if items[i].less(items[parent]) {
        items.swapAt(i, parent)
        i = parent
      } else {
        break
      }
    }
  }

  mutating func pop() -> Entry? {
    guard let first = items.first else { return nil }
    let last = items.removeLast()
    if !items.isEmpty {
      items[0] = last
      var i = 0
      while true {
        let l = 2 * i + 1
        let r = l + 1
        var m = i
        if l < items.count && items[l].less(items[m]) { m = l }
        if r < items.count && items[r].less(items[m]) { m = r }
        if m == i { break }
        items.swapAt(i, m)
        i = m
      }
    }
    return first
  }
}
