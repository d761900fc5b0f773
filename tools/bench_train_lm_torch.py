#!/usr/bin/env python3
"""Eager-PyTorch reference for Streamline's replacement training through the rest of the model.

The same work `streamline prune --replace layer --loss lm|kd` does per step: the replacement layer
(a copy of the block's first layer, trainable) on the block input h_start, the frozen layers after
the block and the head, the loss, the backward into the replacement only, AdamW. Float32 (or bf16
autocast with --bf16), `torch.set_num_threads(--threads)`. Prints tokens/s.

    python tools/bench_train_lm_torch.py MODEL --start 20 --end 28 --loss lm
"""

import argparse
import copy
import json
import time

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--start", type=int, required=True, help="first layer of the block")
    parser.add_argument("--end", type=int, required=True, help="one past its last layer")
    parser.add_argument("--loss", choices=["lm", "kd"], default="lm")
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast for the products")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    inner = model.model
    layers = inner.layers
    replacement = copy.deepcopy(layers[args.start])
    for p in replacement.parameters():
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(replacement.parameters(), lr=1e-4, weight_decay=1e-3)
    vocab = model.config.vocab_size
    b, t = args.micro_batch, args.seq_len
    tokens = torch.randint(0, vocab, (b, t))
    positions = torch.arange(t).unsqueeze(0).expand(b, t)
    with torch.no_grad():
        h = inner.embed_tokens(tokens)
        rope = inner.rotary_emb(h, positions)
        mask = None
        for layer in layers[: args.start]:
            h = layer(h, attention_mask=mask, position_ids=positions, position_embeddings=rope)
            h = h[0] if isinstance(h, tuple) else h
        teacher = h
        for layer in layers[args.start :]:
            teacher = layer(teacher, position_ids=positions, position_embeddings=rope)
            teacher = teacher[0] if isinstance(teacher, tuple) else teacher
    h_start = h.detach()
    h_final = teacher.detach()

    def run(x):
        x = replacement(x, position_ids=positions, position_embeddings=rope)
        x = x[0] if isinstance(x, tuple) else x
        for layer in layers[args.end :]:
            x = layer(x, position_ids=positions, position_embeddings=rope)
            x = x[0] if isinstance(x, tuple) else x
        return model.lm_head(inner.norm(x))

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            logits = run(h_start).float()
            if args.loss == "lm":
                loss = F.cross_entropy(
                    logits[:, :-1].reshape(-1, vocab), tokens[:, 1:].reshape(-1))
            else:
                with torch.no_grad():
                    target = F.log_softmax(model.lm_head(inner.norm(h_final)).float(), -1)
                loss = F.kl_div(
                    F.log_softmax(logits, -1).reshape(-1, vocab), target.reshape(-1, vocab),
                    log_target=True, reduction="batchmean")
        loss.backward()
        optimizer.step()
        return loss.item()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - start
    result = {
        "tool": "torch-eager", "loss": args.loss, "block": [args.start, args.end],
        "frozen_layers": len(layers) - args.end, "micro_batch": b, "seq_len": t,
        "threads": args.threads, "bf16": args.bf16, "steps": args.steps,
        "tokens_per_second": args.steps * b * t / seconds, "torch": torch.__version__,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
