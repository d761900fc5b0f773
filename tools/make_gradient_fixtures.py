#!/usr/bin/env python3
"""Dump PyTorch autograd gradients of decoder layers, the LM loss and AdamW steps as fixtures.

Run from the repository root with torch, transformers and safetensors installed (after
tools/make_model_fixtures.py, whose checkpoints it reads); the outputs are committed under
Tests/Fixtures/gradients and the Swift tests compare against them (CI never needs Python):

    python tools/make_gradient_fixtures.py [--out Tests/Fixtures/gradients]

Files:

- `layer-VARIANT.safetensors`: decoder layer LAYER of Tests/Fixtures/models/VARIANT, run by
  transformers' own decoder-layer class (eager attention, the model's rotary embedding at
  positions 0..T-1, additive causal mask) on two sequences laid end to end. Tensors: `x`
  [rows, C] the layer input, `target` [rows, C], `output` [rows, C], `grad.input` [rows, C], and
  `grad.NAME` for every parameter under its Hugging Face name relative to the layer (e.g.
  `grad.self_attn.q_proj.weight`). Loss = mean squared error over all rows and channels
  (`F.mse_loss`). Metadata: `layer`, `lengths` ("7,12"; llama-gqa adds a sequence longer than
  attention's 128-row query blocks), `loss`.
- `lm-VARIANT.safetensors`: final norm + lm_head + cross-entropy (mean over predicted tokens,
  each sequence's last row predicting nothing) on a random residual stream. Tensors: `x`,
  `targets` (I64, -1 = no prediction), `grad.input`, `grad.norm`, `grad.lm_head`. Metadata:
  `lengths`, `loss`, `count`. Gemma's head applies its final-logit soft-cap.
- `head-VARIANT.safetensors`: a family's own head (OPT: final LayerNorm, project_out, lm_head)
  + cross-entropy as `lm-`, with `grad.input` only.
- `optimizer.safetensors`: AdamW (torch.optim.AdamW) with clip_grad_norm_ and transformers'
  get_cosine_with_min_lr_schedule_with_warmup over a few steps. Tensors: `param.I` initial,
  `grad.S.I` gradient of step S before clipping, `after.S.I` parameter after step S,
  `schedule` (F64) the learning rate of steps 0..TOTAL. Metadata: the settings and, per step,
  `norm.S` (total norm returned by clip_grad_norm_) and `lr.S`.

Gradients are computed in Float64 (eager attention still takes its softmax in Float32) and
stored as Float32, so they are references for a Float32 implementation, not copies of one.
"""
import argparse
import json
import os
import struct

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM
from transformers.optimization import get_cosine_with_min_lr_schedule_with_warmup

LAYER_VARIANTS = ["llama-gqa", "qwen2-bias", "llama-linear-bias", "mistral", "llama3-rope",
                  "qwen3", "qwen3-sliding", "mistral-window"]
LM_VARIANTS = ["llama-gqa", "llama-tied"]
# Families after the Llama ones, so those keep their seeds (OPT and Phi-3 were made when they
# followed llama3-rope directly: SEEDS keeps the seeds of their committed fixtures). Phi-3's longrope lengths sit on
# both sides of its original_max_position_embeddings (8).
LAYER_VARIANTS += ["opt-pre", "opt-post", "opt-plain", "phi3-partial", "phi3-longrope"]
SEEDS = {name: 105 + i for i, name in enumerate(LAYER_VARIANTS[-5:])}
# OPT's head (final LayerNorm, project_out, lm_head): input gradient only.
HEAD_VARIANTS = ["opt-pre", "opt-post"]
# (file name, variant, layer, lengths): Gemma's sliding layer (0) and full layer (1), within the
# window of 8 and past it (`-long`), each with the RoPE of its layer type.
GEMMA_LAYER_CASES = [
    ("gemma3-sliding", "gemma3-text", 0, [5, 8]),
    ("gemma3-full", "gemma3-text", 1, [7, 12]),
    ("gemma3-sliding-long", "gemma3-text", 0, [7, 12, 20]),
    ("gemma2-sliding", "gemma2", 0, [5, 8]),
    ("gemma2-full", "gemma2", 1, [7, 12, 133]),
    ("gemma2-sliding-long", "gemma2", 0, [7, 12, 133]),
]
GEMMA_LM_VARIANTS = ["gemma2", "gemma3-text"]
LENGTHS = [7, 12]
# One case runs past attention's 128-row query blocks.
LAYER_LENGTHS = {"llama-gqa": [7, 12, 133], "qwen3-sliding": [7, 12, 133],
                 "mistral-window": [7, 12, 133]}
LAYER = 1
# The layer to differentiate where layer 1 is not the interesting one (qwen3-sliding's first
# sliding layer is 2).
LAYERS = {"qwen3-sliding": 2}


DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def save_file(tensors, path, metadata):
    """safetensors with the header's keys sorted, so the same inputs give the same bytes
    (safetensors' own writer orders the metadata differently from run to run)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = dict(sorted(metadata.items()))
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def load(models, variant):
    model = AutoModelForCausalLM.from_pretrained(
        os.path.join(models, variant), dtype=torch.float64, attn_implementation="eager")
    model.eval()
    return model


def causal_mask(t, window=None):
    """Additive mask: a query at i sees keys j <= i, and with a window only i - j < window
    (transformers' sliding_window_overlay)."""
    i = torch.arange(t)[:, None]
    j = torch.arange(t)[None, :]
    keep = j <= i
    if window is not None:
        keep &= (i - j) < window
    mask = torch.zeros((t, t), dtype=torch.float64).masked_fill(~keep, float("-inf"))
    return mask[None, None]


def layer_window(config, index):
    """The sliding window of layer `index`, as the family's transformers model applies it."""
    if config.model_type == "mistral":
        return config.sliding_window
    types = getattr(config, "layer_types", None)
    if types is not None and types[index] == "sliding_attention":
        return config.sliding_window
    return None


def layer_case(models, variant, seed, index=None, lengths=None):
    lengths = lengths or LAYER_LENGTHS.get(variant, LENGTHS)
    model = load(models, variant)
    opt = hasattr(model.model, "decoder")
    index = LAYERS.get(variant, LAYER) if index is None else index
    layer = (model.model.decoder.layers if opt else model.model.layers)[index]
    window = None if opt else layer_window(model.config, index)
    c = model.config.hidden_size
    g = torch.Generator().manual_seed(seed)
    rows = sum(lengths)
    x = torch.randn(rows, c, generator=g, dtype=torch.float64)
    target = x + 0.5 * torch.randn(rows, c, generator=g, dtype=torch.float64)
    x.requires_grad_(True)
    outputs = []
    start = 0
    for t in lengths:
        xs = x[start:start + t][None]
        positions = torch.arange(t)[None]
        if opt:  # no rotary: positions were added at embedding time
            out = layer(xs, attention_mask=causal_mask(t, window))
        else:
            if model.config.model_type == "gemma3_text":  # a RoPE per layer type
                cos, sin = model.model.rotary_emb(xs, positions, model.config.layer_types[index])
            else:
                cos, sin = model.model.rotary_emb(xs, positions)
            out = layer(xs, attention_mask=causal_mask(t, window), position_ids=positions,
                        position_embeddings=(cos, sin))
        out = out[0] if isinstance(out, tuple) else out
        outputs.append(out[0])
        start += t
    output = torch.cat(outputs)
    loss = F.mse_loss(output, target)
    loss.backward()
    tensors = {"x": x.detach(), "target": target, "output": output.detach(),
               "grad.input": x.grad}
    for name, p in layer.named_parameters():
        tensors["grad." + name] = p.grad
    tensors = {k: v.float().contiguous() for k, v in tensors.items()}
    meta = {"layer": str(index), "lengths": ",".join(map(str, lengths)), "loss": repr(loss.item())}
    return tensors, meta


def lm_case(models, variant, seed):
    model = load(models, variant)
    c = model.config.hidden_size
    v = model.config.vocab_size
    g = torch.Generator().manual_seed(seed)
    rows = sum(LENGTHS)
    x = torch.randn(rows, c, generator=g, dtype=torch.float64).requires_grad_(True)
    targets = torch.randint(0, v, (rows,), generator=g)
    start = 0
    for t in LENGTHS:
        targets[start + t - 1] = -1  # each sequence's last row predicts nothing
        start += t
    logits = model.lm_head(model.model.norm(x))
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap is not None:
        logits = torch.tanh(logits / cap) * cap
    loss = F.cross_entropy(logits, targets, ignore_index=-1)
    loss.backward()
    tensors = {"x": x.detach().float(), "targets": targets.to(torch.int64),
               "grad.input": x.grad.float(), "grad.norm": model.model.norm.weight.grad.float(),
               "grad.lm_head": model.lm_head.weight.grad.float()}
    meta = {"lengths": ",".join(map(str, LENGTHS)), "loss": repr(loss.item()),
            "count": str(int((targets >= 0).sum()))}
    return {k: t.contiguous() for k, t in tensors.items()}, meta


def head_case(models, variant, seed):
    model = load(models, variant)
    decoder = model.model.decoder
    c = model.config.hidden_size
    v = model.config.vocab_size
    g = torch.Generator().manual_seed(seed)
    rows = sum(LENGTHS)
    x = torch.randn(rows, c, generator=g, dtype=torch.float64).requires_grad_(True)
    targets = torch.randint(0, v, (rows,), generator=g)
    start = 0
    for t in LENGTHS:
        targets[start + t - 1] = -1
        start += t
    h = x
    if decoder.final_layer_norm is not None:
        h = decoder.final_layer_norm(h)
    if decoder.project_out is not None:
        h = decoder.project_out(h)
    loss = F.cross_entropy(model.lm_head(h), targets, ignore_index=-1)
    loss.backward()
    tensors = {"x": x.detach().float(), "targets": targets.to(torch.int64),
               "grad.input": x.grad.float()}
    meta = {"lengths": ",".join(map(str, LENGTHS)), "loss": repr(loss.item()),
            "count": str(int((targets >= 0).sum()))}
    return {k: t.contiguous() for k, t in tensors.items()}, meta


def optimizer_case(seed):
    g = torch.Generator().manual_seed(seed)
    settings = dict(lr=0.05, min_lr=0.01, weight_decay=0.1, betas=(0.9, 0.999), eps=1e-8,
                    max_norm=1.0, warmup=2, total=6, steps=5)
    params = [torch.randn(4, 6, generator=g), torch.randn(5, generator=g)]
    tensors = {f"param.{i}": p.clone() for i, p in enumerate(params)}
    params = [torch.nn.Parameter(p) for p in params]
    optimizer = torch.optim.AdamW(params, lr=settings["lr"], betas=settings["betas"],
                                  eps=settings["eps"], weight_decay=settings["weight_decay"])
    scheduler = get_cosine_with_min_lr_schedule_with_warmup(
        optimizer, num_warmup_steps=settings["warmup"], num_training_steps=settings["total"],
        min_lr=settings["min_lr"])
    meta = {k: repr(v) for k, v in settings.items() if k != "betas"}
    meta["beta1"], meta["beta2"] = repr(settings["betas"][0]), repr(settings["betas"][1])
    for s in range(settings["steps"]):
        # Step 3's gradients are small, so clipping leaves them alone.
        size = 0.01 if s == 3 else 1.0
        for i, p in enumerate(params):
            p.grad = size * torch.randn(p.shape, generator=g)
            tensors[f"grad.{s}.{i}"] = p.grad.clone()
        meta[f"lr.{s}"] = repr(optimizer.param_groups[0]["lr"])
        norm = torch.nn.utils.clip_grad_norm_(params, settings["max_norm"])
        meta[f"norm.{s}"] = repr(float(norm))
        optimizer.step()
        scheduler.step()
        for i, p in enumerate(params):
            tensors[f"after.{s}.{i}"] = p.detach().clone()
    # The schedule alone, over its whole length and past it.
    probe = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)
    long = get_cosine_with_min_lr_schedule_with_warmup(
        probe, num_warmup_steps=10, num_training_steps=100, min_lr=5e-5)
    rates = []
    for _ in range(101):
        rates.append(probe.param_groups[0]["lr"])
        probe.step()
        long.step()
    tensors["schedule"] = torch.tensor(rates, dtype=torch.float64)
    return {k: t.contiguous() for k, t in tensors.items()}, meta


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="Tests/Fixtures/models")
    parser.add_argument("--out", default="Tests/Fixtures/gradients")
    parser.add_argument("--only", nargs="*", help="variants to remake (default: all)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    wanted = lambda variant: not args.only or variant in args.only
    for seed, (name, variant, index, lengths) in enumerate(GEMMA_LAYER_CASES):
        if wanted(f"layer-{name}"):
            tensors, meta = layer_case(args.models, variant, 400 + seed, index, lengths)
            save_file(tensors, os.path.join(args.out, f"layer-{name}.safetensors"), metadata=meta)
            print("layer", name, meta["loss"])
    for seed, variant in enumerate(GEMMA_LM_VARIANTS):
        if wanted(f"lm-{variant}"):
            tensors, meta = lm_case(args.models, variant, 500 + seed)
            save_file(tensors, os.path.join(args.out, f"lm-{variant}.safetensors"), metadata=meta)
            print("lm", variant, meta["loss"])
    for seed, variant in enumerate(LAYER_VARIANTS):
        if not wanted(variant):
            continue
        tensors, meta = layer_case(args.models, variant, SEEDS.get(variant, 100 + seed))
        save_file(tensors, os.path.join(args.out, f"layer-{variant}.safetensors"), metadata=meta)
        print("layer", variant, meta["loss"])
    for seed, variant in enumerate(HEAD_VARIANTS):
        if not wanted(variant):
            continue
        tensors, meta = head_case(args.models, variant, 250 + seed)
        save_file(tensors, os.path.join(args.out, f"head-{variant}.safetensors"), metadata=meta)
        print("head", variant, meta["loss"])
    if args.only:
        return
    for seed, variant in enumerate(LM_VARIANTS):
        tensors, meta = lm_case(args.models, variant, 200 + seed)
        save_file(tensors, os.path.join(args.out, f"lm-{variant}.safetensors"), metadata=meta)
        print("lm", variant, meta["loss"])
    tensors, meta = optimizer_case(300)
    save_file(tensors, os.path.join(args.out, "optimizer.safetensors"), metadata=meta)
    print("optimizer", {k: v for k, v in meta.items() if k.startswith("norm")})


if __name__ == "__main__":
    main()
