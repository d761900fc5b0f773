import Foundation

/// A token's exact scalars as a dictionary key. Swift `String` equality is canonical
/// equivalence ("é" == "e\u{301}"), which would merge distinct vocabulary entries; this key
/// compares scalar for scalar and hashes the raw storage.
struct ScalarKey: Hashable {
  var s: [UInt32]

  init(_ s: [UInt32]) { self.s = s }

  static func == (a: ScalarKey, b: ScalarKey) -> Bool { a.s == b.s }

  func hash(into h: inout Hasher) {
    s.withUnsafeBytes { h.combine(bytes: $0) }
  }
}

/// Token ↔ id tables of a model.
struct Vocabulary {
  private(set) var toId: [ScalarKey: Int32] = [:]
  private(set) var toToken: [Int32: [UInt32]] = [:]
  /// Ids of single-scalar tokens below U+10000, -1 where absent (hot path of BPE).
  private(set) var singleScalar: [Int32] = []

  init() {}

  init(entries: [([UInt32], Int32)]) {
    toId.reserveCapacity(entries.count)
    toToken.reserveCapacity(entries.count)
    for (t, id) in entries {
      toId[ScalarKey(t)] = id  // a repeated key keeps the last id, as serde does
    }
    for (k, id) in toId { toToken[id] = k.s }
    var single = [Int32](repeating: -1, count: 0x10000)
    for (k, id) in toId where k.s.count == 1 && k.s[0] < 0x10000 { single[Int(k.s[0])] = id }
    singleScalar = single
  }

  var count: Int { toId.count }

  @inline(__always)
  func id(_ t: [UInt32]) -> Int32? {
    if t.count == 1 && t[0] < 0x10000 {
      let v = singleScalar[Int(t[0])]
      return v >= 0 ? v : nil
    }
    return toId[ScalarKey(t)]
  }

  func token(_ id: Int32) -> [UInt32]? { toToken[id] }
}

extension Loader {
  /// `{"token": id, ...}` (BPE, WordPiece, WordLevel).
  func vocabulary(_ j: JSON?, field: String) throws -> Vocabulary {
    guard let members = j?.objectValue else {
      throw TokenizerError.invalidField(path: path, field: field, reason: "expected an object")
    }
    var entries: [([UInt32], Int32)] = []
    entries.reserveCapacity(members.count)
    for (k, v) in members {
      guard let id = v.intValue, id >= 0, id <= Loader.maximumTokenId else {
        throw TokenizerError.invalidField(
          path: path, field: field,
          reason:
            "id of \(String(decoding: k, as: UTF8.self).debugDescription) is not an integer in 0...\(Loader.maximumTokenId)"
        )
      }
      entries.append((decodeScalars(k), Int32(id)))
    }
    return Vocabulary(entries: entries)
  }
}
