#!/usr/bin/env python3
"""Reference for `streamline analyze` speed: the same hidden states and pairwise cosines with
`transformers` in eager PyTorch, on a checkpoint and pre-tokenized calibration rows.

    python tools/bench_analyze_torch.py --make-checkpoint DIR   # random TinyLlama-1.1B-shaped BF16 model + calibration.jsonl
    python tools/bench_analyze_torch.py DIR [--samples 32] [--seq-len 512] [--batch 4]

Prints JSON with seconds and tokens/s for the whole computation (forward with every hidden state,
the raw last state via a hook, cosine of every pair of states averaged over all tokens).
Compare with: streamline analyze DIR --calibration DIR/calibration.jsonl --seq-len 512 --samples 32 --remove 4
"""
import argparse
import json
import os
import time

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

TINYLLAMA = dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                 num_attention_heads=32, num_key_value_heads=4, vocab_size=32000,
                 rms_norm_eps=1e-5, rope_theta=10000.0, max_position_embeddings=2048)


def make(folder, samples, seq_len):
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**TINYLLAMA)).to(torch.bfloat16)
    model.save_pretrained(folder)
    rows = torch.randint(0, TINYLLAMA["vocab_size"], (samples, seq_len))
    with open(os.path.join(folder, "calibration.jsonl"), "w") as f:
        for row in rows.tolist():
            f.write(json.dumps({"input_ids": row}) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--make-checkpoint", action="store_true")
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    if args.make_checkpoint:
        make(args.folder, args.samples, args.seq_len)
        return
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(args.folder, dtype=torch.float32).eval()
    rows = [json.loads(l)["input_ids"] for l in open(os.path.join(args.folder, "calibration.jsonl"))]
    rows = torch.tensor(rows[: args.samples])[:, : args.seq_len]
    n = model.config.num_hidden_layers + 1
    sums = torch.zeros(n, n, dtype=torch.float64)
    raw = {}
    model.model.layers[-1].register_forward_hook(
        lambda m, i, o: raw.__setitem__("h", o[0] if isinstance(o, tuple) else o))
    with torch.no_grad():
        for b in range(0, len(rows), args.batch):
            out = model.model(rows[b: b + args.batch], output_hidden_states=True)
            states = [s / s.norm(dim=-1, keepdim=True) for s in list(out.hidden_states[:-1]) + [raw["h"]]]
            for i in range(n):
                for j in range(i + 1, n):
                    sums[i, j] += (states[i] * states[j]).sum(-1).double().sum()
    seconds = time.perf_counter() - start
    tokens = rows.numel()
    print(json.dumps({"seconds": seconds, "tokens": tokens, "tokens_per_second": tokens / seconds,
                      "threads": torch.get_num_threads(),
                      "cos_0_1": float(sums[0, 1] / tokens)}))


if __name__ == "__main__":
    main()
