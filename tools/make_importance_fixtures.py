#!/usr/bin/env python3
"""Reference layer-importance scores and pruned-model logits computed with `transformers`.

    python tools/make_importance_fixtures.py [--model Tests/Fixtures/models/llama-gqa]

Writes Tests/Fixtures/importance/: calibration.jsonl (pre-tokenized rows of exactly SEQ_LEN ids)
and reference.json with, over every token of every row, the mean cosine similarity and mean
angular distance arccos(cos)/pi between every pair of hidden states h_0..h_L (h_0 = embeddings,
h_i = residual stream after layer i *before* the final norm: Hugging Face's last
`output_hidden_states` entry has the norm applied, so the raw last state comes from a hook),
ShortGPT's block influence per layer, and the logits of the model with layers REMOVED skipped.
"""
import argparse
import json
import math
import os

import torch
from transformers import AutoModelForCausalLM

SEQ_LEN = 24
ROWS = 6
REMOVED = [2, 3]


def hidden_states(model, ids):
    raw = {}
    hook = model.model.layers[-1].register_forward_hook(
        lambda mod, inp, out: raw.__setitem__("h", out[0] if isinstance(out, tuple) else out))
    with torch.no_grad():
        out = model(ids, output_hidden_states=True)
    hook.remove()
    return list(out.hidden_states[:-1]) + [raw["h"]]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="Tests/Fixtures/models/llama-gqa")
    parser.add_argument("--out", default="Tests/Fixtures/importance")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    g = torch.Generator().manual_seed(7)
    rows = torch.randint(0, model.config.vocab_size, (ROWS, SEQ_LEN), generator=g)
    with open(os.path.join(args.out, "calibration.jsonl"), "w") as f:
        for row in rows.tolist():
            f.write(json.dumps({"input_ids": row}) + "\n")

    states = hidden_states(model, rows)  # L+1 tensors [ROWS, SEQ_LEN, C]
    n = len(states)
    cosine = [[0.0] * n for _ in range(n)]
    angular = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            cos = torch.nn.functional.cosine_similarity(
                states[i].double(), states[j].double(), dim=-1).clamp(-1, 1)
            cosine[i][j] = float(cos.mean())
            angular[i][j] = float((torch.arccos(cos) / math.pi).mean())
    bi = [1 - cosine[i][i + 1] for i in range(n - 1)]

    kept = [layer for i, layer in enumerate(model.model.layers) if i not in REMOVED]
    model.model.layers = torch.nn.ModuleList(kept)
    model.config.num_hidden_layers = len(kept)
    for i, layer in enumerate(kept):
        layer.self_attn.layer_idx = i
    with torch.no_grad():
        logits = model(rows[:2]).logits
    json.dump({"seq_len": SEQ_LEN, "rows": ROWS, "cosine": cosine, "angular": angular,
               "layer_bi": bi, "removed": REMOVED,
               "pruned_logits": [l.flatten().tolist() for l in logits]},
              open(os.path.join(args.out, "reference.json"), "w"))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
