#!/usr/bin/env python3
"""Check that checkpoints written by `streamline prune` load in stock `transformers` (no custom
code) and compute what `streamline eval` computes for them.

    python tools/check_export.py PRUNED_DIR [PRUNED_DIR ...]

For each folder: loads it with AutoModelForCausalLM, scores a few fixed token sequences, and
compares the mean next-token NLL with `streamline eval --token-ids` on the same sequences.
"""
import json
import subprocess
import sys
import tempfile

import torch
from transformers import AutoModelForCausalLM

BIN = ".build/debug/streamline"


def main():
    for folder in sys.argv[1:]:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        vocab = model.config.vocab_size
        g = torch.Generator().manual_seed(3)
        rows = torch.randint(0, vocab, (3, 20), generator=g)
        total, count = 0.0, 0
        with torch.no_grad():
            for row in rows:
                out = model(row[None], labels=row[None])
                total += float(out.loss) * (len(row) - 1)
                count += len(row) - 1
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            for row in rows.tolist():
                f.write(" ".join(map(str, row)) + "\n")
        ours = json.loads(subprocess.check_output([BIN, "eval", folder, "--token-ids", f.name, "--json"]))
        theirs = total / count
        print(f"{folder}: transformers nll {theirs:.7f}, streamline {ours['nll']:.7f}, "
              f"relative difference {abs(theirs - ours['nll']) / theirs:.2e}")


if __name__ == "__main__":
    main()
