/// Unicode normalization (NFD, NFKD, NFC, NFKC) with the reference library's Unicode data.
///
/// Foundation's normalization follows a newer Unicode version than the Rust crate inside the
/// reference, and mishandles a few inputs (a supplementary scalar followed by a combining mark,
/// U+1108 U+1176 composed into a syllable), so the module normalizes with its own implementation
/// of the standard algorithm over tables recorded from the reference (UnicodeTables.swift,
/// written by tools/make_unicode_tables.py): full decomposition, canonical ordering by combining
/// class, canonical composition (pairs exclude composition exclusions), algorithmic Hangul.
struct NormalizationData: Sendable {
  static let canonical: UInt16 = 1 << 8
  static let compatibility: UInt16 = 1 << 9
  static let second: UInt16 = 1 << 10
  static let cccMask: UInt16 = 0xFF

  /// Per scalar: combining class in the low byte, plus the flags above.
  let info: [UInt16]
  /// scalar -> `start << 5 | count` in `data`.
  let canonicalIndex: [UInt32: UInt32]
  let compatibilityIndex: [UInt32: UInt32]
  let data: [UInt32]
  /// `first << 21 | second` -> composite.
  let compositions: [UInt64: UInt32]

  init() {
    var info = [UInt16](repeating: 0, count: 0x110000)
    var data: [UInt32] = []
    var canonicalIndex: [UInt32: UInt32] = [:]
    var compatibilityIndex: [UInt32: UInt32] = [:]
    parseTableEntries(canonicalDecompositionData, valueRadix: 16) { key, value in
      canonicalIndex[key[0]] = UInt32(data.count) << 5 | UInt32(value.count)
      data.append(contentsOf: value)
      info[Int(key[0])] |= NormalizationData.canonical
    }
    parseTableEntries(compatibilityDecompositionData, valueRadix: 16) { key, value in
      compatibilityIndex[key[0]] = UInt32(data.count) << 5 | UInt32(value.count)
      data.append(contentsOf: value)
      info[Int(key[0])] |= NormalizationData.compatibility
    }
    parseTableEntries(combiningClassData, valueRadix: 10) { key, value in
      for c in key[0]...key[key.count - 1] { info[Int(c)] |= UInt16(value[0]) }
    }
    var compositions: [UInt64: UInt32] = [:]
    parseTableEntries(compositionData, valueRadix: 16) { key, value in
      compositions[UInt64(key[0]) << 21 | UInt64(key[1])] = value[0]
      info[Int(key[1])] |= NormalizationData.second
    }
    for v in 0x1161...0x1175 { info[v] |= NormalizationData.second }
    for t in 0x11A8...0x11C2 { info[t] |= NormalizationData.second }
    self.info = info
    self.data = data
    self.canonicalIndex = canonicalIndex
    self.compatibilityIndex = compatibilityIndex
    self.compositions = compositions
  }
}

/// Calls `body(key, value)` for each `k1,k2:v1,v2` (or `k1-k2:v`) entry of a table string.
private func parseTableEntries(
  _ s: String, valueRadix: UInt32, _ body: ([UInt32], [UInt32]) -> Void
) {
  var key: [UInt32] = []
  var value: [UInt32] = []
  var inValue = false
  var number: UInt32 = 0
  var hasNumber = false
  func flush() {
    if hasNumber {
      if inValue { value.append(number) } else { key.append(number) }
    }
    number = 0
    hasNumber = false
  }
  for b in s.utf8 {
    switch b {
    case UInt8(ascii: "0")...UInt8(ascii: "9"):
      number = number * (inValue ? valueRadix : 16) + UInt32(b - UInt8(ascii: "0"))
      hasNumber = true
    case UInt8(ascii: "A")...UInt8(ascii: "F"):
      number = number * 16 + UInt32(b - UInt8(ascii: "A") + 10)
      hasNumber = true
    case UInt8(ascii: ","), UInt8(ascii: "-"):
      flush()
    case UInt8(ascii: ":"):
      flush()
      inValue = true
    default:
      flush()
      if inValue {
        body(key, value)
        key.removeAll(keepingCapacity: true)
        value.removeAll(keepingCapacity: true)
        inValue = false
      }
    }
  }
  flush()
  if inValue { body(key, value) }
}

let normalizationData = NormalizationData()

private let hangulSBase: UInt32 = 0xAC00
private let hangulLBase: UInt32 = 0x1100
private let hangulVBase: UInt32 = 0x1161
private let hangulTBase: UInt32 = 0x11A7
private let hangulSCount: UInt32 = 11172

/// Normalizes `s` entirely (no quick path) in `form`, appending to `out`.
func normalizeScalars(_ s: ArraySlice<UInt32>, _ form: UnicodeForm, into out: inout [UInt32]) {
  let nd = normalizationData
  nd.info.withUnsafeBufferPointer { info in
    @inline(__always) func ccc(_ c: UInt32) -> UInt16 {
      c < 0x110000 ? info[Int(c)] & NormalizationData.cccMask : 0
    }
    let compat = form == .nfkc || form == .nfkd
    // Decompose and order canonically.
    var d: [UInt32] = []
    d.reserveCapacity(s.count + 4)
    @inline(__always) func push(_ c: UInt32) {
      let cc = ccc(c)
      d.append(c)
      if cc == 0 { return }
      var i = d.count - 1
      while i > 0 {
        let p = ccc(d[i - 1])
        if p <= cc { break }
        d[i] = d[i - 1]
        i -= 1
      }
      d[i] = c
    }
    for c in s {
      if c &- hangulSBase < hangulSCount {
        let si = c - hangulSBase
        push(hangulLBase + si / 588)
        push(hangulVBase + (si % 588) / 28)
        if si % 28 != 0 { push(hangulTBase + si % 28) }
        continue
      }
      let f = c < 0x110000 ? info[Int(c)] : 0
      var entry: UInt32? = nil
      if compat && f & NormalizationData.compatibility != 0 {
        entry = nd.compatibilityIndex[c]
      } else if f & NormalizationData.canonical != 0 {
        entry = nd.canonicalIndex[c]
      }
      if let e = entry {
        let start = Int(e >> 5)
        for k in start..<(start + Int(e & 31)) { push(nd.data[k]) }
      } else {
        push(c)
      }
    }
    if form == .nfd || form == .nfkd {
      out.append(contentsOf: d)
      return
    }
    // Compose.
    var starter = -1
    var lastClass: UInt16 = 0
    for c in d {
      let cc = ccc(c)
      if starter >= 0 && (lastClass == 0 || lastClass < cc)
        && info[Int(c)] & NormalizationData.second != 0
      {
        let a = out[starter]
        var composite: UInt32? = nil
        if a &- hangulLBase < 19 && c &- hangulVBase < 21 {
          composite = hangulSBase + ((a - hangulLBase) * 21 + (c - hangulVBase)) * 28
        } else if a &- hangulSBase < hangulSCount && (a - hangulSBase) % 28 == 0
          && c &- hangulTBase < 28 && c != hangulTBase
        {
          composite = a + (c - hangulTBase)
        } else {
          composite = nd.compositions[UInt64(a) << 21 | UInt64(c)]
        }
        if let composite {
          out[starter] = composite
          continue
        }
      }
      if cc == 0 {
        starter = out.count
        lastClass = 0
      } else {
        lastClass = cc
      }
      out.append(c)
    }
  }
}
