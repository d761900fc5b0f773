#!/usr/bin/env python3
"""Checks `streamline export --gguf` in llama.cpp itself, not only in its converter (not in CI).

For each model folder given (an original and pruned ones), this:

1. exports it with `streamline export --gguf` at each --types (f32, bf16, q8_0 by default),
   timing it;
2. converts the same folder with llama.cpp's own convert_hf_to_gguf.py (each --outtype) and
   compares the files: every metadata key and value, every tensor name, shape, type and
   value (bit for bit), listing what differs;
3. tokenizes the same text with `llama-tokenize` (from the f32 export) and with
   `streamline tokenize --whole` and compares the ids;
4. runs `llama-perplexity` on each export (-c CTX, --chunks N) and scores exactly the same
   windows with Streamline: llama.cpp cuts the tokens into chunks of CTX (BOS first when the
   vocabulary adds one) and scores the predictions of positions CTX/2 … CTX−2 of each chunk; with
   causal attention, that is `streamline eval --token-ids` over the whole chunks minus the same
   over their first CTX/2 + 1 tokens (token-weighted), so both score the same tokens with the
   same context.

llama.cpp is built from the sources vendored in the llama-cpp-python sdist (the tools
llama-perplexity and llama-tokenize only, with cmake, outside the repository):

    python -m pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d SRC
    (if pip stops at "No module named scikit_build_core" the sdist is already in pip's unpack
    folder; or `pip install scikit-build-core` first) ; tar xzf SRC/llama_cpp_python-0.3.36.tar.gz

    python tools/check_gguf_llamacpp.py \\
        --llama-src SRC/llama_cpp_python-0.3.36/vendor/llama.cpp --build LLAMA_BUILD \\
        --streamline .build/release/streamline --text DATA/prose/heldout.jsonl \\
        --work WORK MODEL_FOLDER [MORE_FOLDERS…]

(LLAMA_BUILD: where llama.cpp is built, kept between runs; WORK: exports, converter outputs and
results; DATA: tools/make_real_data.py's output.)

Prints one table row per model and type and writes everything to WORK/results.json (or
--results).

Where a result needs explaining, three more measurements (each optional):

- `--kv-f32`: llama-perplexity again on each export with an F32 KV cache (`-ctk f32 -ctv f32`;
  llama.cpp's default cache is F16, which rounds every key and value);
- `--streamline-bf16`: Streamline's perplexity of the same windows with `--precision bf16`
  (bf16 operands into every matrix product, f32 accumulation: what llama.cpp does with BF16
  weights, whose products convert the activations to bf16);
- `--drop-key KEY` (repeatable): llama-perplexity on a copy of the f32 export without these keys
  (gguf-py's gguf_new_metadata.py), e.g. the Gemma 3 per-layer sliding pattern, to measure what
  a file with the converter's metadata computes on the same tokens.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, text=True, capture_output=True, **kw)


def build_llama(src: Path, build: Path, jobs: int) -> Path:
    bin_dir = build / "bin"
    if (bin_dir / "llama-perplexity").exists() and (bin_dir / "llama-tokenize").exists():
        return bin_dir
    build.mkdir(parents=True, exist_ok=True)
    run(["nice", "-n", "19", "cmake", src, "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF",
         "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_OPENSSL=OFF"], cwd=build)
    run(["nice", "-n", "19", "cmake", "--build", ".", f"-j{jobs}", "--target", "llama-perplexity",
         "llama-tokenize"], cwd=build)
    return bin_dir


def read_text(path: Path, chars: int) -> str:
    if path.suffix in (".jsonl", ".json"):
        docs = []
        total = 0
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            obj = json.loads(line)
            text = obj if isinstance(obj, str) else obj.get("text", "")
            docs.append(text)
            total += len(text)
            if total >= chars:
                break
        text = "\n\n".join(docs)
    else:
        text = path.read_text(encoding="utf-8")
    return text[:chars]


def gguf_module(src: Path):
    sys.path.insert(0, str(src / "gguf-py"))
    import gguf  # noqa: E402

    return gguf


def compare_gguf(gguf, ours: Path, theirs: Path) -> dict:
    import numpy as np

    a, b = gguf.GGUFReader(str(ours)), gguf.GGUFReader(str(theirs))

    def kv(reader):
        return {k: (tuple(int(t) for t in f.types), f.contents())
                for k, f in reader.fields.items() if not k.startswith("GGUF.")}

    ka, kb = kv(a), kv(b)
    only_ours = sorted(set(ka) - set(kb))
    only_theirs = sorted(set(kb) - set(ka))
    differ = {}
    for k in sorted(set(ka) & set(kb)):
        if ka[k] != kb[k]:
            va, vb = ka[k][1], kb[k][1]
            if isinstance(va, list) and isinstance(vb, list) and len(va) == len(vb):
                n = sum(1 for x, y in zip(va, vb) if x != y)
                differ[k] = f"{n} of {len(va)} entries"
            else:
                differ[k] = f"{str(va)[:60]!r} vs {str(vb)[:60]!r}"
    ta = {t.name: t for t in a.tensors}
    tb = {t.name: t for t in b.tensors}
    tensor_diffs = []
    for name in sorted(set(ta) & set(tb)):
        x, y = ta[name], tb[name]
        if list(x.shape) != list(y.shape) or x.tensor_type != y.tensor_type:
            tensor_diffs.append(f"{name}: {list(x.shape)} {x.tensor_type.name} vs "
                                f"{list(y.shape)} {y.tensor_type.name}")
        elif np.asarray(x.data).tobytes() != np.asarray(y.data).tobytes():
            tensor_diffs.append(f"{name}: values differ")
    return {
        "keys_only_streamline": only_ours, "keys_only_converter": only_theirs,
        "keys_differing": differ,
        "tensors_only_streamline": sorted(set(ta) - set(tb)),
        "tensors_only_converter": sorted(set(tb) - set(ta)),
        "tensors_compared": len(set(ta) & set(tb)), "tensor_differences": tensor_diffs,
    }


def llama_tokens(bin_dir: Path, model: Path, text_file: Path) -> list[int]:
    out = run([bin_dir / "llama-tokenize", "-m", model, "-f", text_file, "--ids", "--log-disable",
               "--no-escape"]).stdout
    match = re.search(r"\[([\d,\s]*)\]", out)
    return [int(x) for x in match.group(1).replace(",", " ").split()] if match else []


def llama_perplexity(bin_dir: Path, model: Path, text_file: Path, ctx: int, chunks: int,
                     threads: int, extra: list[str] | None = None) -> tuple[float, float]:
    out = run([bin_dir / "llama-perplexity", "-m", model, "-f", text_file, "-c", ctx,
               "-b", ctx, "--chunks", chunks, "-t", threads] + (extra or []))
    text = out.stdout + out.stderr
    match = re.search(r"Final estimate: PPL = ([\d.]+) \+/- ([\d.]+)", text)
    if not match:
        raise RuntimeError("llama-perplexity printed no final estimate:\n" + text[-2000:])
    return float(match.group(1)), float(match.group(2))


def streamline_tokens(streamline: str, folder: Path, text_file: Path) -> list[int]:
    out = run([streamline, "tokenize", folder, "--file", text_file, "--whole", "--json"]).stdout
    return json.loads(out.strip().splitlines()[0])["ids"]


def streamline_chunk_perplexity(streamline: str, folder: Path, tokens: list[int], bos: int | None,
                                ctx: int, chunks: int, work: Path, precision: str) -> float:
    """Streamline's perplexity over llama-perplexity's scored positions (see the docstring)."""
    first = ctx // 2
    full, prefix = [], []
    for i in range(chunks):
        chunk = list(tokens[i * ctx:(i + 1) * ctx])
        if bos is not None:
            chunk[0] = bos
        full.append(chunk)
        prefix.append(chunk[:first + 1])
    totals = []
    for name, seqs in (("full", full), ("prefix", prefix)):
        path = work / f"{folder.name}-{name}-{ctx}.ids"
        path.write_text("\n".join(" ".join(map(str, s)) for s in seqs) + "\n")
        out = run([streamline, "eval", folder, "--token-ids", path, "--precision", precision,
                   "--json"]).stdout
        report = json.loads(out)
        totals.append((report["nll"] * report["tokens"], report["tokens"]))
    nll = (totals[0][0] - totals[1][0]) / (totals[0][1] - totals[1][1])
    return math.exp(nll)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--llama-src", type=Path, required=True)
    parser.add_argument("--build", type=Path, required=True, help="llama.cpp build folder")
    parser.add_argument("--streamline", default=".build/release/streamline")
    parser.add_argument("--streamline-eval", default=None,
                        help="the binary for tokenize and eval (default: --streamline)")
    parser.add_argument("--text", type=Path, required=True)
    parser.add_argument("--chars", type=int, default=40000)
    parser.add_argument("--ctx", type=int, default=512)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--types", default="f32,bf16,q8_0")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--work", type=Path, required=True,
                        help="folder for the exports, converter outputs and results")
    parser.add_argument("--skip-converter", action="store_true")
    parser.add_argument("--results", type=Path, default=None,
                        help="where the results go (default WORK/results.json)")
    parser.add_argument("--kv-f32", action="store_true",
                        help="also run llama-perplexity with an F32 KV cache")
    parser.add_argument("--streamline-bf16", action="store_true",
                        help="also score the windows with streamline eval --precision bf16")
    parser.add_argument("--drop-key", action="append", default=[],
                        help="also run the f32 export without this metadata key")
    args = parser.parse_args()
    results_path = args.results or args.work / "results.json"
    evaluator = args.streamline_eval or args.streamline

    args.work.mkdir(parents=True, exist_ok=True)
    bin_dir = build_llama(args.llama_src, args.build, args.jobs)
    gguf = gguf_module(args.llama_src)
    text_file = args.work / "text.txt"
    text_file.write_text(read_text(args.text, args.chars), encoding="utf-8")
    results = []
    for folder in args.models:
        row = {"model": str(folder), "exports": {}}
        for kind in args.types.split(","):
            out = args.work / f"{folder.name}-{kind}.gguf"
            start = time.time()
            run([args.streamline, "export", folder, "--gguf", out, "--type", kind, "--force"])
            row["exports"][kind] = {"seconds": round(time.time() - start, 2),
                                    "bytes": out.stat().st_size}
        f32 = args.work / f"{folder.name}-f32.gguf"
        if not args.skip_converter:
            row["converter"] = {}
            for kind in args.types.split(","):
                reference = args.work / f"{folder.name}-converter-{kind}.gguf"
                env = dict(os.environ, PYTHONPATH=str(args.llama_src / "gguf-py"))
                try:
                    run([sys.executable, args.llama_src / "convert_hf_to_gguf.py", folder,
                         "--outtype", kind, "--outfile", reference], env=env)
                except subprocess.CalledProcessError as error:
                    row["converter"][kind] = {"converter_failed": error.stderr[-400:]}
                    continue
                row["converter"][kind] = compare_gguf(
                    gguf, args.work / f"{folder.name}-{kind}.gguf", reference)
                reference.unlink()
        theirs = llama_tokens(bin_dir, f32, text_file)
        ours = streamline_tokens(evaluator, folder, text_file)
        row["tokens"] = {"llama.cpp": len(theirs), "streamline": len(ours),
                         "equal": theirs == ours,
                         "first_difference": next((i for i, (x, y) in enumerate(zip(theirs, ours))
                                                   if x != y), None)}
        reader = gguf.GGUFReader(str(f32))
        add_bos = bool(reader.fields["tokenizer.ggml.add_bos_token"].contents()) \
            if "tokenizer.ggml.add_bos_token" in reader.fields else False
        bos = int(reader.fields["tokenizer.ggml.bos_token_id"].contents()) if add_bos else None
        chunks = min(args.chunks, len(ours) // args.ctx)
        row["chunks"] = chunks
        row["streamline_f32"] = streamline_chunk_perplexity(
            evaluator, folder, ours, bos, args.ctx, chunks, args.work, "f32")
        if args.streamline_bf16:
            row["streamline_bf16"] = streamline_chunk_perplexity(
                evaluator, folder, ours, bos, args.ctx, chunks, args.work, "bf16")
            row["streamline_bf16_relative"] = row["streamline_bf16"] / row["streamline_f32"] - 1
        row["llama"] = {}
        variants = [("", [])] + ([("kvf32", ["-ctk", "f32", "-ctv", "f32"])] if args.kv_f32
                                 else [])
        for suffix, extra in variants:
            for kind in args.types.split(","):
                ppl, err = llama_perplexity(bin_dir, args.work / f"{folder.name}-{kind}.gguf",
                                            text_file, args.ctx, chunks, args.threads, extra)
                name = kind + ("+" + suffix if suffix else "")
                row["llama"][name] = {"ppl": ppl, "stderr": err,
                                      "relative": ppl / row["streamline_f32"] - 1}
                if args.streamline_bf16 and kind == "bf16":
                    row["llama"][name]["relative_to_streamline_bf16"] = \
                        ppl / row["streamline_bf16"] - 1
        if args.drop_key:
            reader_keys = set(gguf.GGUFReader(str(f32)).fields)
            dropped = [k for k in args.drop_key if k in reader_keys]
            if dropped:
                stripped = args.work / f"{folder.name}-f32-without.gguf"
                script = args.llama_src / "gguf-py" / "gguf" / "scripts" / "gguf_new_metadata.py"
                env = dict(os.environ, PYTHONPATH=str(args.llama_src / "gguf-py"))
                cmd = [sys.executable, script, f32, stripped, "--force"]
                for key in dropped:
                    cmd += ["--remove-metadata", key]
                run(cmd, env=env)
                ppl, err = llama_perplexity(bin_dir, stripped, text_file, args.ctx, chunks,
                                            args.threads)
                row["llama"]["f32 without " + ",".join(dropped)] = {
                    "ppl": ppl, "stderr": err, "relative": ppl / row["streamline_f32"] - 1}
                stripped.unlink()
        results.append(row)
        print(json.dumps(row, indent=1), flush=True)
        results_path.write_text(json.dumps(results, indent=1))
    names = list(results[0]["llama"]) if results else []
    print("| model | streamline f32 | " + " | ".join(f"llama.cpp {k} (rel.)" for k in names)
          + " | tokens equal |")
    for row in results:
        cells = [f"{row['llama'][k]['ppl']:.4f} ({row['llama'][k]['relative']:+.2e})"
                 if k in row["llama"] else "" for k in names]
        print(f"| {Path(row['model']).name} | {row['streamline_f32']:.4f} | " + " | ".join(cells)
              + f" | {row['tokens']['equal']} ({row['tokens']['streamline']}) |")


if __name__ == "__main__":
    main()
