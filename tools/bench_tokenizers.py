#!/usr/bin/env python3
"""Reference throughput of the Python `tokenizers` library, single-threaded.

Used by `streamline bench tokenize`, which runs it on the same text in the same invocation and
prints the ratio. Encodes every line of FILE with `Tokenizer.encode` (one call per line) and
with `encode_batch` restricted to one thread, and reports the faster of the two.

    python tools/bench_tokenizers.py --tokenizer path/to/tokenizer.json --file text.txt

Prints one JSON object: {"mb_per_s": ..., "seconds": ..., "tokens": ..., "bytes": ..., "mode": ...}
"""

import argparse
import json
import os
import sys
import time

# Must be set before the Rust thread pool starts.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["RAYON_RS_NUM_CPUS"] = "1"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", required=True, help="tokenizer.json or a model folder")
    ap.add_argument("--file", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-special-tokens", action="store_true")
    args = ap.parse_args()
    try:
        from tokenizers import Tokenizer
    except ImportError as e:
        print(json.dumps({"error": "tokenizers not importable: %s" % e}))
        return 1
    path = args.tokenizer
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
    tok = Tokenizer.from_file(path)
    with open(args.file, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [l[:-1] if l.endswith("\r") else l for l in lines]
    nbytes = sum(len(l.encode("utf-8")) for l in lines)
    add = not args.no_special_tokens
    tok.encode_batch(lines[:100], add_special_tokens=add)  # warm-up

    best = None
    for mode in ("encode", "encode_batch"):
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            if mode == "encode":
                n = sum(len(tok.encode(l, add_special_tokens=add).ids) for l in lines)
            else:
                n = sum(len(e.ids) for e in tok.encode_batch(lines, add_special_tokens=add))
            dt = time.perf_counter() - t0
            if best is None or dt < best[0]:
                best = (dt, n, mode)
    dt, n, mode = best
    print(json.dumps({"mb_per_s": nbytes / dt / 1e6, "seconds": dt, "tokens": n,
                      "bytes": nbytes, "mode": mode}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
