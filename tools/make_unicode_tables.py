#!/usr/bin/env python3
"""Write Sources/Tokenizers/UnicodeTables.swift from what Python `tokenizers` does.

Swift's standard library and Foundation follow Unicode 17; the reference library does not:
its normalizers use the Rust `unicode-normalization-alignments` crate (old Unicode data), its
Split/ByteLevel regexes use Oniguruma (the `onig` crate, Unicode 14-ish), and its Whitespace and
Digits pre-tokenizers use the Rust `regex` crate and Rust's `char`. Foundation's normalization
also has bugs (a supplementary scalar followed by a combining mark is corrupted; U+1108 U+1176
is composed into a Hangul syllable). So the module carries its own tables, recorded here from
the reference library itself, for every scalar:

Normalization (all from the library's NFD/NFKD/NFC normalizers):
- canonical decompositions (full, as NFD gives them; Hangul syllables are algorithmic);
- compatibility decompositions, where NFKD differs from NFD;
- canonical combining classes: which scalars the library reorders past U+0334 (ccc 1) or
  U+0345 (ccc 240), then the exact class by ordering against one reference mark per class
  (Python's `unicodedata.combining` is the candidate; the library's ordering decides);
- composition pairs: primary composites from one-step canonical decompositions of length 2
  whose NFC gives back the composite (this excludes composition exclusions and singletons).

Regex classes (Oniguruma, probed with a Split pre-tokenizer that removes what the pattern
matches): the general category of every scalar (`\\p{Lu}` ... `\\p{Cn}`), and `\\s`,
`\\p{Alphabetic}`, `\\p{Uppercase}`, `\\p{Lowercase}`, `\\p{Hex_Digit}`, `\\p{Emoji}`,
`\\p{Join_Control}`, `\\w`.

Rust classes: `\\w` and `\\s` of the `regex` crate (Whitespace pre-tokenizer) and
`char::is_numeric` (Digits pre-tokenizer).

Run with the project's virtualenv (tokenizers 0.23.3) and commit the output:

    python tools/make_unicode_tables.py
"""

import os
import sys
import unicodedata

from tokenizers import Regex
from tokenizers import normalizers as N
from tokenizers import pre_tokenizers as P

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Sources", "Tokenizers", "UnicodeTables.swift")

ALL = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
GCS = "Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Zs Zl Zp Cc Cf Cs Co Cn".split()
SBASE, LBASE, VBASE, TBASE, SCOUNT = 0xAC00, 0x1100, 0x1161, 0x11A7, 11172


def batched(norm, strings, sep="\x00", size=4096):
    """normalize_str on each string, many at a time, joined by a starter that never changes."""
    out = []
    for i in range(0, len(strings), size):
        chunk = strings[i : i + size]
        r = norm.normalize_str(sep.join(chunk)).split(sep)
        assert len(r) == len(chunk)
        out.extend(r)
    return out


def matched(pattern, cps):
    """The scalars of cps that Oniguruma's `pattern` matches (each on its own)."""
    sp = P.Split(Regex(pattern), "removed")
    hit = set()
    for i in range(0, len(cps), 8192):
        chunk = cps[i : i + 8192]
        rest = set(ord(ch) for piece, _ in sp.pre_tokenize_str("".join(map(chr, chunk))) for ch in piece)
        hit.update(c for c in chunk if c not in rest)
    return hit


def ranges(cps):
    out = []
    for c in sorted(cps):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def record_normalization():
    nfd, nfkd, nfc = N.NFD(), N.NFKD(), N.NFC()
    cps = [c for c in ALL if c != 0]
    d = batched(nfd, [chr(c) for c in cps])
    k = batched(nfkd, [chr(c) for c in cps])
    canon, compat = {}, {}
    for c, dc, kc in zip(cps, d, k):
        hangul = SBASE <= c < SBASE + SCOUNT
        if hangul:
            s = c - SBASE
            exp = [LBASE + s // 588, VBASE + (s % 588) // 28] + ([TBASE + s % 28] if s % 28 else [])
            assert [ord(x) for x in dc] == exp and dc == kc, hex(c)
            continue
        if dc != chr(c):
            canon[c] = [ord(x) for x in dc]
        if kc != dc:
            compat[c] = [ord(x) for x in kc]
    # Combining classes. Only scalars that do not decompose can be probed directly.
    plain = [c for c in cps if c not in canon and not SBASE <= c < SBASE + SCOUNT]
    above1 = batched(nfd, [chr(c) + "\u0334" for c in plain])
    below240 = batched(nfd, ["\u0345" + chr(c) for c in plain])
    nonzero = [
        c for c, a, b in zip(plain, above1, below240) if a != chr(c) + "\u0334" or b != "\u0345" + chr(c)
    ]
    # Compatibility-decomposing scalars that are marks (rare) keep their NFD form's classes.
    refs = {}
    for c in sorted(nonzero):
        refs.setdefault(unicodedata.combining(chr(c)), c)
    refs.pop(0, None)
    ref_list = sorted(refs.items())
    for w1, r1 in ref_list:  # the references must order among themselves as Python says
        for w2, r2 in ref_list:
            reorder = nfd.normalize_str(chr(r1) + chr(r2)) != chr(r1) + chr(r2)
            assert reorder == (w2 < w1), (w1, w2)
    ccc = {}
    for c in nonzero:
        lo, hi, eq = 0, 256, None
        for w, r in ref_list:
            if nfd.normalize_str(chr(c) + chr(r)) != chr(c) + chr(r):
                lo = max(lo, w)  # w < v
            elif nfd.normalize_str(chr(r) + chr(c)) != chr(r) + chr(c):
                hi = min(hi, w)  # v < w
            else:
                eq = w
        cand = unicodedata.combining(chr(c))
        if eq is not None:
            v = eq
        elif lo < cand < hi:
            v = cand
        else:
            v = lo + 1
            assert v < hi, hex(c)
        ccc[c] = v
    # Compositions.
    pairs = {}
    for c in canon:
        dec = unicodedata.decomposition(chr(c))
        if not dec or dec.startswith("<"):
            continue
        parts = [int(x, 16) for x in dec.split()]
        if len(parts) != 2:
            continue
        if nfc.normalize_str(chr(c)) == chr(c) and nfc.normalize_str(chr(parts[0]) + chr(parts[1])) == chr(c):
            pairs[(parts[0], parts[1])] = c
    newer = [c for c in canon if unicodedata.decomposition(chr(c)) == ""]
    if newer:
        print("warning: the library decomposes scalars Python's unicodedata does not:", newer[:10], file=sys.stderr)
    return canon, compat, ccc, pairs


def record_classes():
    gc = {}
    for name in GCS:
        for c in matched(r"\p{%s}" % name, ALL):
            assert c not in gc, (hex(c), name, GCS[gc.get(c, 0)])
            gc[c] = GCS.index(name)
    cn = GCS.index("Cn")
    gcs = [gc.get(c, cn) for c in range(0x110000)]
    for c in range(0xD800, 0xE000):
        gcs[c] = GCS.index("Cs")
    binary = {}
    for name, pat in [
        ("onigSpace", r"\s"),
        ("onigAlphabetic", r"\p{Alphabetic}"),
        ("onigUppercase", r"\p{Uppercase}"),
        ("onigLowercase", r"\p{Lowercase}"),
        ("onigHexDigit", r"\p{Hex_Digit}"),
        ("onigEmoji", r"\p{Emoji}"),
        ("onigJoinControl", r"\p{Join_Control}"),
        ("onigWord", r"\w"),
    ]:
        binary[name] = matched(pat, ALL)
    ws, digits = P.Whitespace(), P.Digits(individual_digits=False)
    word, space, numeric = set(), set(), set()
    for c in ALL:
        n = len(ws.pre_tokenize_str("a" + chr(c) + "a"))
        if n == 1:
            word.add(c)
        elif n == 2:
            space.add(c)
        if len(digits.pre_tokenize_str("a" + chr(c) + "a")) == 3:
            numeric.add(c)
    binary["rustWord"] = word
    binary["rustSpace"] = space
    binary["rustNumeric"] = numeric
    return gcs, binary


def swift_ranges(lines, name, cps, doc):
    lines.append(f"/// {doc}")
    lines.append(f"let {name}Ranges: [UInt32] = [")
    row = []
    for lo, hi in ranges(cps):
        row.append(f"0x{lo:X}, 0x{hi:X},")
        if len(row) == 6:
            lines.append("  " + " ".join(row))
            row = []
    if row:
        lines.append("  " + " ".join(row))
    lines.append("]")
    lines.append("")


def swift_string(lines, name, items, doc, per_line=12):
    lines.append(f"/// {doc}")
    lines.append(f"let {name}: String = \"\"\"")
    for i in range(0, len(items), per_line):
        lines.append("  " + " ".join(items[i : i + per_line]))
    lines.append("  \"\"\"")
    lines.append("")


def main():
    canon, compat, ccc, pairs = record_normalization()
    gcs, binary = record_classes()
    lines = [
        "// Generated by tools/make_unicode_tables.py from Python tokenizers; do not edit.",
        "// Unicode data as the reference library sees it (see the script for how it is recorded).",
        "// swift-format-ignore-file",
        "",
    ]

    def dec_items(table):
        return [f"{c:X}:" + ",".join(f"{x:X}" for x in table[c]) for c in sorted(table)]

    swift_string(lines, "canonicalDecompositionData", dec_items(canon),
                 "Full canonical decompositions `scalar:d1,d2,...` (hex), Hangul syllables excepted.", 8)
    swift_string(lines, "compatibilityDecompositionData", dec_items(compat),
                 "Full compatibility decompositions, where they differ from the canonical ones.", 8)
    runs = []
    for c in sorted(ccc):
        if runs and runs[-1][1] == c - 1 and runs[-1][2] == ccc[c]:
            runs[-1][1] = c
        else:
            runs.append([c, c, ccc[c]])
    swift_string(lines, "combiningClassData", [f"{lo:X}-{hi:X}:{v}" for lo, hi, v in runs],
                 "Non-zero canonical combining classes `first-last:class`.")
    swift_string(lines, "compositionData", [f"{a:X},{b:X}:{c:X}" for (a, b), c in sorted(pairs.items())],
                 "Canonical compositions `first,second:composite`, Hangul excepted.", 8)
    gc_runs = []
    for c in range(0x110000):
        if not gc_runs or gc_runs[-1][1] != gcs[c]:
            gc_runs.append([c, gcs[c]])
    lines.append("/// Oniguruma's general category of every scalar: runs `start << 5 | category` (GC order).")
    lines.append("let onigCategoryRuns: [UInt32] = [")
    row = []
    for start, g in gc_runs:
        row.append(f"0x{(start << 5) | g:X},")
        if len(row) == 10:
            lines.append("  " + " ".join(row))
            row = []
    if row:
        lines.append("  " + " ".join(row))
    lines.append("]")
    lines.append("")
    docs = {
        "onigSpace": "Oniguruma's `\\s`.",
        "onigAlphabetic": "Oniguruma's `\\p{Alphabetic}`.",
        "onigUppercase": "Oniguruma's `\\p{Uppercase}`.",
        "onigLowercase": "Oniguruma's `\\p{Lowercase}`.",
        "onigHexDigit": "Oniguruma's `\\p{Hex_Digit}`.",
        "onigEmoji": "Oniguruma's `\\p{Emoji}`.",
        "onigJoinControl": "Oniguruma's `\\p{Join_Control}`.",
        "onigWord": "Oniguruma's `\\w` (not quite Alphabetic, M, Nd, Pc: it has U+00B2 and a few No).",
        "rustWord": "The Rust `regex` crate's `\\w` (Whitespace pre-tokenizer).",
        "rustSpace": "The Rust `regex` crate's `\\s` (Whitespace pre-tokenizer).",
        "rustNumeric": "Rust's `char::is_numeric` (Digits pre-tokenizer).",
    }
    for name, cps in binary.items():
        swift_ranges(lines, name, cps, docs[name])
    with open(OUT, "w") as f:
        f.write("\n".join(lines))
    print(
        f"canonical {len(canon)}, compatibility {len(compat)}, ccc {len(ccc)}, pairs {len(pairs)}, "
        f"gc runs {len(gc_runs)}, " + ", ".join(f"{k} {len(v)}" for k, v in binary.items()),
        "->", OUT,
    )


if __name__ == "__main__":
    main()
