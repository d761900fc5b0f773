#!/usr/bin/env python3
"""Make tiny random checkpoints (Llama family, OPT, Phi-3, Gemma 2 and 3) and their reference outputs with `transformers`.

Run once with torch, transformers and safetensors installed; the outputs are committed under
Tests/Fixtures/models and the Swift tests compare against them (CI never needs Python):

    python tools/make_model_fixtures.py [--out Tests/Fixtures/models]

Each variant folder is a normal Hugging Face checkpoint plus `reference.safetensors` holding, for
each test sequence s: `tokens.s` (I64), `logits.s` [T, V] and `hidden.s.i` [T, C] for i = 0..L,
where hidden.s.0 is the embeddings and hidden.s.i the residual stream after layer i *before* the
final norm (Hugging Face's last `output_hidden_states` entry has the norm applied, so the last one
is taken with a hook instead). Metadata records each sequence's mean next-token NLL in nats.
Reference computation is always Float32, also for the BF16 checkpoint (its weights widen exactly).
`--only NAME ...` remakes just those variants (the others' bytes stay as committed).
"""
import argparse
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from transformers import (AutoModelForCausalLM, Gemma2Config, Gemma3TextConfig, LlamaConfig,
                          MistralConfig, OPTConfig, Phi3Config, Qwen2Config, Qwen3Config)

SEQUENCES = [
    [1, 17, 42, 99, 5, 63, 64, 2, 100, 7, 11],
    [3, 88, 120, 45, 9],
    [127, 0, 56, 34, 77, 23, 5, 5, 5, 91, 16, 28, 110, 64, 2, 33, 1],
]

COMMON = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=4,
              num_key_value_heads=2, vocab_size=128, rms_norm_eps=1e-5, max_position_embeddings=256)

VARIANTS = {
    "llama-gqa": (LlamaConfig, dict(COMMON, num_hidden_layers=6), torch.float32, None),
    "llama-tied": (LlamaConfig, dict(COMMON, tie_word_embeddings=True, num_key_value_heads=4),
                   torch.float32, None),
    "llama3-rope": (LlamaConfig, dict(COMMON, rope_theta=500000.0, rope_scaling={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 16}), torch.float32, None),
    "llama-linear-bias": (LlamaConfig, dict(COMMON, attention_bias=True, mlp_bias=True,
                          rope_scaling={"rope_type": "linear", "factor": 2.0}),
                          torch.float32, None),
    "mistral": (MistralConfig, dict(COMMON, head_dim=16, num_key_value_heads=1, sliding_window=64),
                torch.float32, None),
    "qwen2-bias": (Qwen2Config, dict(COMMON, rope_theta=1000000.0), torch.float32, None),
    "llama-bf16": (LlamaConfig, dict(COMMON), torch.bfloat16, None),
    "llama-sharded": (LlamaConfig, dict(COMMON), torch.float32, "40KB"),
    # Qwen3: q width (4 heads of 16) differs from hidden_size; per-head q/k norms.
    "qwen3": (Qwen3Config, dict(COMMON, head_dim=16), torch.float32, None),
    "qwen3-tied": (Qwen3Config, dict(COMMON, head_dim=8, tie_word_embeddings=True,
                   attention_bias=True, num_key_value_heads=1), torch.float32, None),
    # Layers 2 and 3 slide over 5 tokens (max_window_layers), shorter than the test sequences.
    "qwen3-sliding": (Qwen3Config, dict(COMMON, head_dim=16, use_sliding_window=True,
                      sliding_window=5, max_window_layers=2), torch.float32, None),
    "qwen3-bf16": (Qwen3Config, dict(COMMON, head_dim=16), torch.bfloat16, None),
    # Windows shorter than the test sequences on every layer (Mistral) or on the layers
    # layer_types names (Qwen2).
    "mistral-window": (MistralConfig, dict(COMMON, sliding_window=6), torch.float32, None),
    "qwen2-window": (Qwen2Config, dict(COMMON, use_sliding_window=True, sliding_window=4,
                     layer_types=["full_attention", "sliding_attention", "sliding_attention",
                                  "full_attention"]), torch.float32, None),
}

OPT_COMMON = dict(hidden_size=32, ffn_dim=64, num_hidden_layers=4, num_attention_heads=4,
                  vocab_size=128, max_position_embeddings=64, pad_token_id=1, bos_token_id=2,
                  eos_token_id=2)
PHI3_COMMON = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=2,
                   num_key_value_heads=1, vocab_size=128, rms_norm_eps=1e-5, pad_token_id=0,
                   bos_token_id=1, eos_token_id=2)
# Appended after the Llama family. OPT and Phi-3 were made when they followed llama-sharded
# directly, so SEEDS keeps the seeds their committed fixtures were made with (8 onwards).
VARIANTS.update({
    "opt-pre": (OPTConfig, dict(OPT_COMMON), torch.float32, None),
    # opt-350m's layout: post-norm, no final norm, narrower embeddings projected in and out.
    "opt-post": (OPTConfig, dict(OPT_COMMON, do_layer_norm_before=False, word_embed_proj_dim=16),
                 torch.float32, None),
    "opt-bf16": (OPTConfig, dict(OPT_COMMON), torch.bfloat16, None),
    "opt-plain": (OPTConfig, dict(OPT_COMMON, enable_bias=False, layer_norm_elementwise_affine=False,
                                  tie_word_embeddings=False), torch.float32, None),
    # Half of each 16-wide head rotates; a window longer than every test sequence.
    "phi3-partial": (Phi3Config, dict(PHI3_COMMON, max_position_embeddings=256,
                                      original_max_position_embeddings=256, sliding_window=64,
                                      rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                                       "partial_rotary_factor": 0.5}),
                     torch.float32, None),
    # LongRoPE over 12 of 16 features a head, pretrained on 8 positions, extended to 32: the
    # 5-token sequence uses the short factors, the 11- and 17-token ones the long factors.
    "phi3-longrope": (Phi3Config, dict(PHI3_COMMON, max_position_embeddings=32,
                                       original_max_position_embeddings=8, rope_parameters={
                                           "rope_type": "longrope", "rope_theta": 10000.0,
                                           "partial_rotary_factor": 0.75,
                                           "short_factor": [1.0, 1.1, 1.3, 1.6, 2.0, 2.5],
                                           "long_factor": [1.0, 1.5, 2.5, 4.0, 6.0, 9.0]}),
                      torch.float32, None),
})
SEEDS = {name: 8 + i for i, name in enumerate(
    ["opt-pre", "opt-post", "opt-bf16", "opt-plain", "phi3-partial", "phi3-longrope"])}
# Windowed variants also run a sequence longer than attention's 128-row query blocks, so whole
# key blocks fall outside the window.
LONG = [(7 * i * i + 3 * i + 1) % 128 for i in range(150)]
EXTRA_SEQUENCES = {name: [LONG] for name in [
    "qwen3-sliding", "mistral-window", "qwen2-window", "phi3-partial"]}

# Gemma: head_dim × heads ≠ hidden, query_pre_attn_scalar ≠ head_dim, a window of 8.
GEMMA = dict(COMMON, head_dim=16, rms_norm_eps=1e-6, sliding_window=8, query_pre_attn_scalar=24)
GEMMA3 = dict(GEMMA, layer_types=["sliding_attention", "full_attention", "sliding_attention",
                                  "sliding_attention"],
              rope_parameters={
                  "full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 100000.0},
                  "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}})
VARIANTS.update({
    "gemma3-text": (Gemma3TextConfig, GEMMA3, torch.float32, None),
    "gemma3-bf16": (Gemma3TextConfig, dict(GEMMA3, tie_word_embeddings=False), torch.bfloat16,
                    None),
    # Caps small enough to bend the random model's scores and logits.
    "gemma2": (Gemma2Config, dict(GEMMA, attn_logit_softcapping=2.0, final_logit_softcapping=4.0),
               torch.float32, None),
})
# Made on a branch where they came right after the Llama family.
SEEDS.update({"gemma3-text": 8, "gemma3-bf16": 9, "gemma2": 10})

# Gemma's own sequences: 5 and 8 tokens (inside the window of 8), then 11, 17 and 140 (past it;
# 140 also crosses attention's 128-row query blocks).
GEMMA_SEQUENCES = [
    SEQUENCES[1],
    [9, 31, 77, 102, 4, 60, 18, 125],
    SEQUENCES[0],
    SEQUENCES[2],
    [(37 * i + 11) % 128 for i in range(140)],
]


def randomize(model, seed):
    """Weights large enough that attention and the MLP do something visible."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("bias"):  # OPT's LayerNorm (Llama has none)
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif "norm" in name:
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[-1] ** 0.5)


def reference(model, tokens):
    raw_last = {}
    layers = model.model.decoder.layers if hasattr(model.model, "decoder") else model.model.layers
    last = layers[-1]
    hook = last.register_forward_hook(
        lambda mod, inp, out: raw_last.__setitem__("h", out[0] if isinstance(out, tuple) else out))
    ids = torch.tensor([tokens])
    with torch.no_grad():
        out = model(ids, labels=ids, output_hidden_states=True)
    hook.remove()
    hidden = [h[0].float() for h in out.hidden_states[:-1]] + [raw_last["h"][0].float()]
    return out.logits[0].float(), hidden, float(out.loss)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="Tests/Fixtures/models")
    parser.add_argument("--only", nargs="*", help="regenerate only these variants (safetensors' "
                        "writer orders metadata differently each run, so others would change)")
    args = parser.parse_args()
    torch.manual_seed(0)
    for seed, (name, (config_class, kwargs, dtype, shard)) in enumerate(VARIANTS.items()):
        if args.only and name not in args.only:
            continue
        sequences = (GEMMA_SEQUENCES if name.startswith("gemma")
                     else SEQUENCES + EXTRA_SEQUENCES.get(name, []))
        config = config_class(**kwargs)
        config._attn_implementation = "eager"
        model = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
        randomize(model, SEEDS.get(name, seed))
        folder = os.path.join(args.out, name)
        shutil.rmtree(folder, ignore_errors=True)
        model.to(dtype)
        save_kwargs = {"max_shard_size": shard} if shard else {}
        model.save_pretrained(folder, **save_kwargs)
        # Reference: reload exactly as a user would, computing in Float32.
        loaded = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32,
                                                      attn_implementation="eager")
        loaded.eval()
        tensors, meta = {}, {}
        for s, tokens in enumerate(sequences):
            logits, hidden, nll = reference(loaded, tokens)
            tensors[f"tokens.{s}"] = torch.tensor(tokens, dtype=torch.int64)
            tensors[f"logits.{s}"] = logits.contiguous()
            for i, h in enumerate(hidden):
                tensors[f"hidden.{s}.{i}"] = h.contiguous()
            meta[f"nll.{s}"] = repr(nll)
        meta["parameters"] = str(sum(p.numel() for p in loaded.parameters()))
        save_file(tensors, os.path.join(folder, "reference.safetensors"), metadata=meta)
        with open(os.path.join(folder, "tokens.txt"), "w") as f:
            for tokens in sequences:
                f.write(" ".join(map(str, tokens)) + "\n")
        print(name, sorted(os.listdir(folder)), meta["parameters"])


if __name__ == "__main__":
    main()
