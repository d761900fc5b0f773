#!/usr/bin/env python3
"""Time lm-eval 0.4's Hugging Face backend on the requests of `streamline bench choices`.

    python tools/bench_choices_hf.py [--config config.json] [--items 8] ...

Same shape (TinyLlama-1.1B by default, random weights, float32, CPU), same token ids (the
xorshift64* stream of Sources/Streamline/Benchmarks/ChoiceBenchmark.swift), scored by
`HFLM._loglikelihood_tokens`, lm-eval's own batching and context grouping included. Run both
in the same session on an otherwise idle machine and compare the seconds.
"""
import argparse
import json
import time

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast
from tokenizers import Tokenizer, models

from lm_eval.models.huggingface import HFLM

TINYLLAMA = {"model_type": "llama", "hidden_size": 2048, "intermediate_size": 5632,
             "num_hidden_layers": 22, "num_attention_heads": 32, "num_key_value_heads": 4,
             "vocab_size": 32000, "rms_norm_eps": 1e-5, "rope_theta": 10000.0}
M = (1 << 64) - 1


def requests(items, choices, context_tokens, continuation_tokens, vocabulary):
    state = 0x9E3779B97F4A7C15

    def nxt():
        nonlocal state
        state ^= state >> 12
        state ^= (state << 25) & M
        state ^= state >> 27
        return (((state * 2685821657736338717) & M) >> 33) % vocabulary

    out = []
    for _ in range(items):
        ctx = [nxt() for _ in range(context_tokens)]
        out.append([(ctx, [nxt() for _ in range(continuation_tokens)]) for _ in range(choices)])
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config")
    p.add_argument("--items", type=int, default=8)
    p.add_argument("--choices", type=int, default=4)
    p.add_argument("--context-tokens", type=int, default=64)
    p.add_argument("--continuation-tokens", type=int, default=24)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--dump", help="write the log-likelihoods here (JSON)")
    a = p.parse_args()
    cfg = json.load(open(a.config)) if a.config else TINYLLAMA
    cfg = {k: v for k, v in cfg.items() if k != "model_type"}
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(LlamaConfig(**cfg), dtype=torch.float32).eval()
    vocab = cfg["vocab_size"]
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")),
        eos_token="<unk>", pad_token="<unk>")
    lm = HFLM(pretrained=model, tokenizer=tok, device="cpu", batch_size=a.batch_size,
              max_length=4096)
    reqs = requests(a.items, a.choices, a.context_tokens, a.continuation_tokens, vocab)
    flat = [(("", ""), ctx, cont) for item in reqs for ctx, cont in item]
    lm._loglikelihood_tokens(flat[:1], disable_tqdm=True)  # warm-up
    start = time.time()
    res = lm._loglikelihood_tokens(flat, disable_tqdm=True)
    seconds = time.time() - start
    print(json.dumps({"items": a.items, "choices": a.choices, "seconds": seconds,
                      "items_per_second": a.items / seconds, "threads": torch.get_num_threads()}))
    if a.dump:
        json.dump([r[0] for r in res], open(a.dump, "w"))


if __name__ == "__main__":
    main()
