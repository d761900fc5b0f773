#!/usr/bin/env python3
"""Reference perplexities of real checkpoints with `transformers`, defined as `streamline eval --perplexity`.

    python tools/real_reference.py --models DIR,DIR --files F,F --out DATA/reference.json
        [--seq-len N] [--stride N]

For each model folder and each text file, the token perplexity exactly as Streamline's
`eval --perplexity FILE` computes it (Sources/Evaluation/TextPerplexity.swift,
Sources/StreamlineCLI/EvalCommand.swift), which is lm-eval 0.4's `loglikelihood_rolling`:

- documents: a `.jsonl` file gives one document per line (its `text` field); any other file is one
  document;
- tokens: `tokenizer.encode(doc)` with the tokenizer's own special tokens (so Gemma's `<bos>` is
  the first token, SmolLM2 adds none), none when the document starts with the prefix token's text;
- prefix token: BOS, else EOS;
- windows: `get_rolling_token_windows(tokens, prefix, max_seq_len=seq_len, context_len=1)` made
  disjoint, seq-len default `min(max_position_embeddings (or n_positions, n_ctx), 2048)`, stride =
  seq-len; each window is one forward pass, its last len(targets) rows scored;
- NLL: log-sum-exp of the float32 logits in float64 minus the target's logit; perplexity =
  exp(mean NLL over every predicted token of every document).

Computed in float32 (the BF16 weights upcast exactly), on CPU, one window at a time. Prints and
writes JSON with the perplexity, mean NLL, its standard error, token/window counts and the time.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window
from transformers import AutoModelForCausalLM, AutoTokenizer

def read_documents(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if not (path.suffix in (".jsonl", ".json")):
        return [text]
    docs = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        o = json.loads(line)
        docs.append(o if isinstance(o, str) else next(o[k] for k in ("text", "page", "content") if k in o))
    return docs


def max_length(folder: Path) -> int:
    c = json.loads((folder / "config.json").read_text())
    for scope in [c.get("text_config"), c]:
        if not isinstance(scope, dict):
            continue
        for k in ("n_positions", "max_position_embeddings", "n_ctx"):
            if isinstance(scope.get(k), int) and scope[k] > 0:
                return scope[k]
    return 2048


def score(model, tok, docs: list[str], seq_len: int, stride: int) -> dict:
    prefix = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    prefix_text = tok.decode([prefix], skip_special_tokens=False)
    if stride != seq_len:
        raise SystemExit("only stride == seq-len is implemented here (lm-eval's rolling windows)")
    nlls: list[float] = []
    windows = 0
    for doc in docs:
        special = not prefix_text or not doc.startswith(prefix_text)
        tokens = tok.encode(doc, add_special_tokens=special)
        for w in get_rolling_token_windows(token_list=tokens, prefix_token=prefix,
                                           max_seq_len=seq_len, context_len=1):
            context, target = make_disjoint_window(w)
            inp = (context + target)[:-1]
            with torch.no_grad():
                logits = model(torch.tensor([inp])).logits[0, -len(target):].double()
            lse = torch.logsumexp(logits, dim=-1)
            picked = logits.gather(1, torch.tensor(target).unsqueeze(1)).squeeze(1)
            nlls += (lse - picked).tolist()
            windows += 1
    n = len(nlls)
    mean = sum(nlls) / n
    msq = sum(x * x for x in nlls) / n
    stderr = math.sqrt(max(0.0, (msq - mean * mean) / (n - 1)))
    total = sum(nlls)
    nbytes = sum(len(d.encode("utf-8")) for d in docs)
    return {"documents": len(docs), "windows": windows, "tokens": n, "seq_len": seq_len, "stride": stride,
            "nll": mean, "nll_stderr": stderr, "perplexity": math.exp(mean),
            "byte_perplexity": math.exp(total / nbytes), "bits_per_byte": total / nbytes / math.log(2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", required=True,
                    help="model folders, comma-separated (e.g. MODELS/smollm2-135m-instruct,MODELS/gemma3-270m)")
    ap.add_argument("--files", required=True,
                    help="text files, comma-separated (e.g. DATA/prose/heldout.jsonl,DATA/code/heldout.jsonl)")
    ap.add_argument("--out", type=Path, required=True, help="the JSON file written")
    ap.add_argument("--seq-len", type=int, default=None)
    ap.add_argument("--stride", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = {"dtype": "float32", "torch": torch.__version__, "models": {}}
    import transformers
    results["transformers"] = transformers.__version__
    for m in args.models.split(","):
        folder = Path(m)
        t0 = time.time()
        tok = AutoTokenizer.from_pretrained(str(folder))
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
        seq_len = args.seq_len or min(max_length(folder), 2048)
        stride = args.stride or seq_len
        entry = {"path": str(folder), "model_type": model.config.model_type,
                 "attn_implementation": model.config._attn_implementation,
                 "parameters": sum(p.numel() for p in model.parameters()), "files": {}}
        for f in args.files.split(","):
            t1 = time.time()
            r = score(model, tok, read_documents(Path(f)), seq_len, stride)
            r["seconds"] = round(time.time() - t1, 1)
            r["tokens_per_second"] = round(r["tokens"] / r["seconds"], 1)
            entry["files"][f] = r
            print(f"{folder.name}  {f}: perplexity {r['perplexity']:.6f} (nll {r['nll']:.8f} ± {r['nll_stderr']:.6f}, "
                  f"{r['tokens']} tokens, {r['windows']} windows, seq-len {seq_len}) in {r['seconds']} s", flush=True)
        entry["seconds"] = round(time.time() - t0, 1)
        results["models"][folder.name] = entry
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
