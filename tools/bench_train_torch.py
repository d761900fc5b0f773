#!/usr/bin/env python3
"""Reference for `streamline bench train`: one `transformers` LlamaDecoderLayer trained with MSE
and AdamW in eager PyTorch (causal attention, real rotary positions), TinyLlama-1.1B's shape.

    python tools/bench_train_torch.py [--micro-batch 4] [--seq-len 512] [--steps 4]

Prints JSON with tokens_per_second over the timed steps (one untimed warm-up step first).
"""
import argparse
import json
import time

import torch
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaDecoderLayer, LlamaRotaryEmbedding

TINYLLAMA = dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                 num_attention_heads=32, num_key_value_heads=4, vocab_size=32000,
                 rms_norm_eps=1e-5, rope_theta=10000.0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    config = LlamaConfig(**TINYLLAMA)
    config._attn_implementation = "eager"
    layer = LlamaDecoderLayer(config, 0)
    rotary = LlamaRotaryEmbedding(config)
    optimizer = torch.optim.AdamW(layer.parameters(), lr=2e-4, weight_decay=1e-3)
    b, t, c = args.micro_batch, args.seq_len, config.hidden_size
    positions = torch.arange(t)[None].expand(b, t)
    mask = torch.full((t, t), float("-inf")).triu(1)[None, None].expand(b, 1, t, t)

    def step():
        x = torch.randn(b, t, c)
        y = torch.randn(b, t, c)
        embeddings = rotary(x, positions)
        out = layer(x, attention_mask=mask, position_ids=positions, position_embeddings=embeddings)
        out = out[0] if isinstance(out, tuple) else out
        loss = torch.nn.functional.mse_loss(out, y)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(layer.parameters(), 5.0)
        optimizer.step()

    step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "threads": torch.get_num_threads(),
                      "tokens_per_second": args.steps * b * t / seconds}))


if __name__ == "__main__":
    main()
