#!/usr/bin/env python3
"""Reference forward speed: `transformers` in eager PyTorch, random weights of a given shape.

    python tools/bench_forward_torch.py [--batch 4] [--seq-len 512] [--precision f32|bf16]

Prints one JSON object with tokens_per_second, for comparison with `streamline bench forward`
on the same machine and shape (TinyLlama-1.1B's by default, or `--config` of any family),
every hidden state kept.
"""
import argparse
import json
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig

TINYLLAMA = dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                 num_attention_heads=32, num_key_value_heads=4, vocab_size=32000,
                 rms_norm_eps=1e-5, rope_theta=10000.0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    parser.add_argument("--config", help="a config.json giving the shape")
    args = parser.parse_args()
    if args.config:  # any family transformers knows, by its model_type
        shape = json.load(open(args.config))
        config = AutoConfig.for_model(shape.pop("model_type", "llama"), **shape)
    else:
        config = LlamaConfig(**TINYLLAMA)
    dtype = torch.float32 if args.precision == "f32" else torch.bfloat16
    with torch.device("cpu"):
        model = AutoModelForCausalLM.from_config(config).to(dtype).eval()
    ids = torch.randint(0, config.vocab_size, (args.batch, args.seq_len))
    with torch.no_grad():
        model(ids[:1, :16], output_hidden_states=True)
        start = time.perf_counter()
        model(ids, output_hidden_states=True)
        seconds = time.perf_counter() - start
    print(json.dumps({"precision": args.precision, "batch": args.batch, "seq_len": args.seq_len,
                      "seconds": seconds, "threads": torch.get_num_threads(),
                      "attention": model.config._attn_implementation,
                      "tokens_per_second": args.batch * args.seq_len / seconds}))


if __name__ == "__main__":
    main()
