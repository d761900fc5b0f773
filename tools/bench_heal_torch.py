#!/usr/bin/env python3
"""Eager-PyTorch reference for Streamline's healing step (`streamline bench train --heal`).

The same work per step as `streamline prune --heal lora|all`: every decoder layer of a model of
LAYERS layers (random weights of MODEL's shape) trains by distillation through the final norm and
the head: the teacher's logits from the teacher's final state, KL(teacher || student), the backward
through every layer, AdamW on what trains: the layers' weights whole (`all`) or rank-8 adapters on
every Linear of every layer (`lora`, alpha 16, the adapters unmerged as PEFT runs them). Inputs and
teacher states are random, as Streamline's benchmark draws them. Float32,
`torch.set_num_threads(--threads)`. Prints tokens/s.

    python tools/bench_heal_torch.py MODEL --layers 23 --heal lora
"""

import argparse
import json
import time

import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForCausalLM


class LoRALinear(torch.nn.Module):
    """x·Wᵀ (+ b) + (alpha / r)·x·Aᵀ·Bᵀ with W frozen, A uniform in ±1/√in, B zero."""

    def __init__(self, base: torch.nn.Linear, rank: int = 8, alpha: float = 16.0):
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        bound = 1 / base.in_features ** 0.5
        self.a = torch.nn.Parameter(torch.empty(rank, base.in_features).uniform_(-bound, bound))
        self.b = torch.nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x):
        return self.base(x) + self.scale * F.linear(F.linear(x, self.a), self.b)


def adapt(module: torch.nn.Module):
    for name, child in list(module.named_children()):
        if isinstance(child, torch.nn.Linear):
            setattr(module, name, LoRALinear(child))
        else:
            adapt(child)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", help="a model folder whose config.json gives the shape")
    parser.add_argument("--layers", type=int, required=True, help="decoder layers that train")
    parser.add_argument("--heal", choices=["lora", "all"], default="lora")
    parser.add_argument("--micro-batch", type=int, default=1)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    config = AutoConfig.from_pretrained(args.model)
    config.num_hidden_layers = args.layers
    if hasattr(config, "layer_types") and config.layer_types is not None:
        config.layer_types = config.layer_types[: args.layers]
    model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.float32)
    model.train()
    for p in model.parameters():
        p.requires_grad_(False)
    layers = model.model.layers
    if args.heal == "lora":
        for layer in layers:
            adapt(layer)
    trainable = [p for layer in layers for n, p in layer.named_parameters()
                 if args.heal == "all" or n.endswith(".a") or n.endswith(".b")]
    for p in trainable:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=1e-3)
    b, t, c = args.micro_batch, args.seq_len, config.hidden_size
    norm, head = model.model.norm, model.lm_head

    def step():
        inputs = torch.rand(b, t, c) * 2 - 1
        teacher = torch.rand(b, t, c) * 2 - 1
        with torch.no_grad():
            target = F.log_softmax(head(norm(teacher)).float(), dim=-1)
        hidden = model.model(inputs_embeds=inputs).last_hidden_state
        student = F.log_softmax(head(hidden).float(), dim=-1)
        loss = F.kl_div(student.view(-1, student.shape[-1]), target.view(-1, target.shape[-1]),
                        log_target=True, reduction="batchmean")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 5.0)
        optimizer.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - start
    print(json.dumps({"heal": args.heal, "layers": args.layers, "micro_batch": b, "seq_len": t,
                      "steps": args.steps, "seconds": seconds,
                      "tokens_per_second": b * t * args.steps / seconds}))


if __name__ == "__main__":
    main()
