#!/usr/bin/env python3
"""Check that checkpoints written by `streamline prune` load in stock `transformers` (no custom
code) and compute what `streamline eval` computes for them.

    python tools/check_export.py [--token-ids FILE] [--bin PATH] PRUNED_DIR [PRUNED_DIR ...]

For each folder: loads it with AutoModelForCausalLM in float32, scores token sequences (three
fixed random ones of 20 tokens, or the lines of --token-ids, e.g. real text tokenized; keep
them within a sliding-window model's window while streamline refuses longer ones), and compares
the mean next-token NLL with `streamline eval --token-ids` on the same sequences.
"""
import argparse
import json
import subprocess
import tempfile

import torch
from transformers import AutoModelForCausalLM


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--token-ids", help="token-id sequences, one per line")
    parser.add_argument("--bin", default=".build/debug/streamline")
    args = parser.parse_args()
    for folder in args.folders:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        if args.token_ids:
            with open(args.token_ids) as f:
                rows = [torch.tensor(list(map(int, line.split()))) for line in f if line.strip()]
            path = args.token_ids
        else:
            g = torch.Generator().manual_seed(3)
            rows = list(torch.randint(0, model.config.vocab_size, (3, 20), generator=g))
            with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
                for row in rows:
                    f.write(" ".join(map(str, row.tolist())) + "\n")
            path = f.name
        total, count = 0.0, 0
        with torch.no_grad():
            for row in rows:
                out = model(row[None], labels=row[None])
                total += float(out.loss) * (len(row) - 1)
                count += len(row) - 1
        ours = json.loads(subprocess.check_output([args.bin, "eval", folder, "--token-ids", path,
                                                   "--json"]))
        theirs = total / count
        print(f"{folder}: transformers nll {theirs:.7f}, streamline {ours['nll']:.7f}, "
              f"relative difference {abs(theirs - ours['nll']) / theirs:.2e}", flush=True)


if __name__ == "__main__":
    main()
