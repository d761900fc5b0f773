import Foundation

/// General categories in a fixed order, plus a few binary properties, looked up per scalar, as
/// the reference library sees them (tables recorded from it, not the stdlib's Unicode 17).
/// The Basic Multilingual Plane is tabulated once (binary searches are too slow for the
/// per-scalar loops of pre-tokenization); other planes are computed on demand.
enum GC: UInt8, CaseIterable {
  case Lu, Ll, Lt, Lm, Lo, Mn, Mc, Me, Nd, Nl, No, Pc, Pd, Ps, Pe, Pi, Pf, Po, Sm, Sc, Sk, So
  case Zs, Zl, Zp, Cc, Cf, Cs, Co, Cn
}

struct UFlags {
  static let gcMask: UInt16 = 0x1F
  static let whiteSpace: UInt16 = 1 << 5
  static let alphabetic: UInt16 = 1 << 6
  static let joinControl: UInt16 = 1 << 7
  static let uppercase: UInt16 = 1 << 8
  static let lowercase: UInt16 = 1 << 9
  static let hexDigit: UInt16 = 1 << 10
  static let emoji: UInt16 = 1 << 11
  static let onigWord: UInt16 = 1 << 12
}

/// The general category and properties as the reference's regex engine (Oniguruma) sees them,
/// from tables recorded from the reference (UnicodeTables.swift): Swift's Unicode 17 data
/// classifies thousands of newer scalars differently.
private func computeFlags(_ v: UInt32) -> UInt16 {
  if v >= 0xD800 && v <= 0xDFFF { return UInt16(GC.Cs.rawValue) }
  // The last run starting at or before v.
  var lo = 0
  var hi = onigCategoryRuns.count
  while hi - lo > 1 {
    let mid = (lo + hi) / 2
    if onigCategoryRuns[mid] >> 5 <= v { lo = mid } else { hi = mid }
  }
  var f = UInt16(onigCategoryRuns[lo] & 31)
  if inRanges(onigSpaceRanges, v) { f |= UFlags.whiteSpace }
  if inRanges(onigAlphabeticRanges, v) { f |= UFlags.alphabetic }
  if inRanges(onigJoinControlRanges, v) { f |= UFlags.joinControl }
  if inRanges(onigUppercaseRanges, v) { f |= UFlags.uppercase }
  if inRanges(onigLowercaseRanges, v) { f |= UFlags.lowercase }
  if inRanges(onigHexDigitRanges, v) { f |= UFlags.hexDigit }
  if inRanges(onigEmojiRanges, v) { f |= UFlags.emoji }
  if inRanges(onigWordRanges, v) { f |= UFlags.onigWord }
  return f
}

private let bmpFlags: [UInt16] = (0..<0x10000).map { computeFlags(UInt32($0)) }

/// Bit sets over general categories.
struct GCSet {
  static let letter: UInt32 = 0b11111  // Lu Ll Lt Lm Lo
  static let mark: UInt32 = 0b111 << 5
  static let number: UInt32 = 0b111 << 8
  static let punctuation: UInt32 = 0b1111111 << 11
  static let symbol: UInt32 = 0b1111 << 18
  static let separator: UInt32 = 0b111 << 22
  static let other: UInt32 = 0b11111 << 25
  static func bit(_ g: GC) -> UInt32 { 1 << UInt32(g.rawValue) }
}

@inline(__always)
func uflags(_ v: UInt32) -> UInt16 {
  if v < 0x10000 {
    return bmpFlags.withUnsafeBufferPointer { $0[Int(v)] }
  }
  return computeFlags(v)
}

/// Pre-tokenizer character kinds used by the hot loops, one byte per BMP scalar.
struct Kind {
  static let letter: UInt8 = 1  // \p{L}
  static let number: UInt8 = 2  // \p{N}
  static let space: UInt8 = 4  // \s (White_Space)
  static let newline: UInt8 = 8  // \r or \n
  static let word: UInt8 = 16  // the Rust regex crate's \w (Whitespace pre-tokenizer)
  static let punct: UInt8 = 32  // BERT punctuation: ASCII or P* as of the reference's tables
  static let numeric: UInt8 = 64  // Rust char::is_numeric (Digits pre-tokenizer)
}

private func computeKind(_ v: UInt32) -> UInt8 {
  let f = uflags(v)
  let gcBit = UInt32(1) << UInt32(f & UFlags.gcMask)
  var k: UInt8 = 0
  // \p{L} and \p{N} as Oniguruma sees them (the known patterns' fast paths).
  if gcBit & GCSet.letter != 0 { k |= Kind.letter }
  if gcBit & GCSet.number != 0 { k |= Kind.number }
  if f & UFlags.whiteSpace != 0 { k |= Kind.space }
  if v == 0x0A || v == 0x0D { k |= Kind.newline }
  if inRanges(rustWordRanges, v) { k |= Kind.word }
  if inRanges(rustNumericRanges, v) { k |= Kind.numeric }
  // BERT's punctuation follows the reference library's old Unicode tables, not the stdlib's.
  if inRanges(bertPunctuationRanges, v) { k |= Kind.punct }
  return k
}

private let bmpKinds: [UInt8] = (0..<0x10000).map { computeKind(UInt32($0)) }

@inline(__always)
func kind(_ v: UInt32) -> UInt8 {
  if v < 0x10000 {
    return bmpKinds.withUnsafeBufferPointer { $0[Int(v)] }
  }
  return computeKind(v)
}

/// A kinds table that callers can hold for the duration of a loop.
let kindTable: [UInt8] = bmpKinds

@inline(__always)
func generalCategory(_ v: UInt32) -> GC {
  GC(rawValue: UInt8(uflags(v) & UFlags.gcMask))!
}

/// Simple case folding approximated as lowercase(uppercase(c)) over single-scalar mappings,
/// which gives the equivalence classes onig uses for one-to-one folds (s ~ S ~ ſ, k ~ K ~ K).
func caseFold(_ v: UInt32) -> UInt32 {
  if v < 0x80 {
    if v >= 0x41 && v <= 0x5A { return v + 32 }
    return v
  }
  guard let s = Unicode.Scalar(v) else { return v }
  var u = v
  let up = s.properties.uppercaseMapping.unicodeScalars
  if up.count == 1 { u = up.first!.value }
  guard let us = Unicode.Scalar(u) else { return v }
  let low = us.properties.lowercaseMapping.unicodeScalars
  if low.count == 1 { return low.first!.value }
  let low2 = s.properties.lowercaseMapping.unicodeScalars
  if low2.count == 1 { return low2.first!.value }
  return v
}

/// Whether `v` lies in one of the sorted inclusive ranges `[lo0, hi0, lo1, hi1, ...]`.
func inRanges(_ r: [UInt32], _ v: UInt32) -> Bool {
  var lo = 0
  var hi = r.count / 2
  while lo < hi {
    let mid = (lo + hi) / 2
    if r[2 * mid + 1] < v {
      lo = mid + 1
    } else {
      hi = mid
    }
  }
  return lo < r.count / 2 && r[2 * lo] <= v
}
