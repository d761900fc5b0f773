#!/usr/bin/env python3
"""Record the reference library's Unicode behaviour over every code point, for a sweep test.

    python tools/sweep_unicode.py OUT.txt
    STREAMLINE_UNICODE_SWEEP=OUT.txt swift test --filter UnicodeSweep

Writes a text file (tens of MB of work, a few MB written; not committed) with:
- `N<TAB>form<TAB>cp<TAB>out`: the form's normalization of "a" + chr(cp) + U+0301 + "b", only
  where it differs from the input (the test expects the input back everywhere else);
- `P<TAB>form<TAB>in<TAB>out`: explicit inputs (all Hangul jamo pairs L+V, LV+T and neighbours,
  pairs of marks in both orders, seeded random sequences of scalars that decompose, compose
  or have a combining class) with their normalization;
- `R<TAB>pattern<TAB>lo-hi,...`: the scalars Oniguruma's single-character `pattern` matches.
Scalars are hex, sequences comma-separated.
"""

import random
import sys
import unicodedata

from tokenizers import Regex
from tokenizers import normalizers as N
from tokenizers import pre_tokenizers as P

ALL = [c for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]
FORMS = {"nfc": N.NFC(), "nfd": N.NFD(), "nfkc": N.NFKC(), "nfkd": N.NFKD()}
PATTERNS = [
    r"\p{L}", r"\p{N}", r"\p{M}", r"\p{P}", r"\p{S}", r"\p{Z}", r"\p{C}", r"\p{Lu}", r"\p{Ll}",
    r"\p{Lo}", r"\p{Nd}", r"\p{Mn}", r"\p{Po}", r"\p{So}", r"\s", r"\S", r"\w", r"\W", r"\d",
    r"[[:punct:]]", r"[[:alpha:]]", r"[[:alnum:]]", r"[[:upper:]]", r"[[:lower:]]",
    r"[[:space:]]", r"[[:graph:]]", r"[[:print:]]", r"[[:cntrl:]]", r"[[:blank:]]",
    r"[[:xdigit:]]", r"\p{Alphabetic}", r"\p{Emoji}", r"[^\s\p{L}\p{N}]",
]


def hexs(s):
    return ",".join(f"{ord(x):X}" for x in s)


def batched(norm, strings, size=4096):
    out = []
    for i in range(0, len(strings), size):
        chunk = strings[i : i + size]
        r = norm.normalize_str("\x00".join(chunk)).split("\x00")
        assert len(r) == len(chunk)
        out.extend(r)
    return out


def ranges(cps):
    out = []
    for c in sorted(cps):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        sys.exit("usage: python tools/sweep_unicode.py OUT.txt")
    path = sys.argv[1]
    lines = []
    inputs = ["a" + chr(c) + "\u0301b" for c in ALL]
    for name, norm in FORMS.items():
        for c, s, r in zip(ALL, inputs, batched(norm, inputs)):
            if r != s:
                lines.append(f"N\t{name}\t{c:X}\t{hexs(r)}")
    pairs = []
    for a in range(0x10F0, 0x1180):
        for b in range(0x1150, 0x11D0):
            pairs.append(chr(a) + chr(b))
    for s0 in range(0xAC00, 0xAC00 + 11172, 97):
        for t in range(0x11A0, 0x11D0):
            pairs.append(chr(s0) + chr(t))
            pairs.append(chr(s0 + 1) + chr(t))
    marks = [c for c in range(0x300, 0x110000) if unicodedata.combining(chr(c))]
    for m in marks:
        for r in (0x0301, 0x0316, 0x0334, 0x0345, 0x05B0, 0x093C, 0x0E38, 0x3099):
            pairs.append("a" + chr(m) + chr(r))
            pairs.append("a" + chr(r) + chr(m))
        pairs.append(chr(0x10041) + chr(m))
        pairs.append(chr(0xE004B) + chr(m))
    # Seeded random sequences over scalars that decompose, compose or carry a class.
    rng = random.Random(0)
    pool = sorted(
        {c for c in ALL if unicodedata.decomposition(chr(c)) or unicodedata.combining(chr(c))}
        | {int(x, 16) for c in ALL for x in unicodedata.decomposition(chr(c)).split() if x[0] != "<"}
        | set(range(0x1100, 0x1200)) | set(range(0xAC00, 0xAC40)) | set(range(0x61, 0x7B))
        | {0xE004B, 0x10041, 0x1E4E8, 0x1DFA, 0x7FD}
    )
    for _ in range(60000):
        pairs.append("".join(chr(rng.choice(pool)) for _ in range(rng.randint(2, 6))))
    for name, norm in FORMS.items():
        for s, r in zip(pairs, batched(norm, pairs)):
            lines.append(f"P\t{name}\t{hexs(s)}\t{hexs(r)}")
    for pat in PATTERNS:
        sp = P.Split(Regex(pat), "removed")
        hit = set()
        for i in range(0, len(ALL), 8192):
            chunk = ALL[i : i + 8192]
            rest = set(ord(ch) for piece, _ in sp.pre_tokenize_str("".join(map(chr, chunk))) for ch in piece)
            hit.update(c for c in chunk if c not in rest)
        lines.append(f"R\t{pat}\t" + ",".join(f"{lo:X}-{hi:X}" for lo, hi in ranges(hit)))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(len(lines), "lines ->", path)


if __name__ == "__main__":
    main()
