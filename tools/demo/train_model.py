#!/usr/bin/env python3
"""Train the demo model: a small Llama (LlamaForCausalLM) on the King James Bible train split.

Reproduce (from the repository root; about 25 minutes on one busy CPU core):

    python tools/demo/fetch_corpus.py      # corpus + splits   -> demo/build/, demo/data/
    python tools/demo/train_tokenizer.py   # BPE tokenizer     -> demo/build/tokenizer/
    python tools/demo/train_model.py       # Llama model       -> demo/model/
    python tools/demo/make_tasks.py        # multiple choice   -> demo/data/tasks/
    python tools/demo/check_model.py       # reload, perplexity, task accuracy

Data: each train chapter (a line of demo/build/train.txt) is encoded as <s> text </s>; the
chapters are concatenated in canonical order into one stream and cut into 256-token rows.
Each epoch starts the cut at a seeded random offset in [0, 256) and visits the rows in a
seeded random order. Loss: next-token cross-entropy on every position.

Optimiser: AdamW (betas 0.9/0.95, weight decay 0.1 on matrices only), peak learning rate
1e-3 after 60 warm-up steps, cosine decay to 1e-4, gradient clipping 1.0, batch 16 rows
(4,096 tokens), 3 epochs. Master weights are Float32; matrix products run under CPU bfloat16
autocast for speed. torch.manual_seed(SEED) fixes the initialisation, numpy's
default_rng(SEED) the data order. It runs on one thread (--threads 1: two threads were
slower on a shared 2-core machine); runs on the same machine and thread count give the same
weights (other CPUs may differ in the last bits, as bf16 kernels differ).

Output: demo/model/ with config.json, generation_config.json, model.safetensors (BF16),
tokenizer.json, tokenizer_config.json, special_tokens_map.json; the training log goes to
demo/build/train_log.json (demo/model/README.md quotes it).
"""

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "demo" / "build"
TOKENIZER = BUILD / "tokenizer"
OUT = ROOT / "demo" / "model"

SEED = 1611
SEQ = 256
BATCH = 16
PEAK_LR = 1.0e-3
MIN_LR = 1.0e-4
WARMUP = 60
WEIGHT_DECAY = 0.1
CLIP = 1.0


def model_config(tok: Tokenizer) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=256,
        intermediate_size=640,
        num_hidden_layers=12,
        num_attention_heads=8,
        num_key_value_heads=4,
        head_dim=32,
        hidden_act="silu",
        max_position_embeddings=SEQ,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        initializer_range=0.02,
        tie_word_embeddings=True,
        attention_bias=False,
        mlp_bias=False,
        bos_token_id=tok.token_to_id("<s>"),
        eos_token_id=tok.token_to_id("</s>"),
        pad_token_id=tok.token_to_id("<pad>"),
    )


def encode_stream(tok: Tokenizer, path: Path) -> np.ndarray:
    """<s> chapter </s> for every line, concatenated (the tokenizer adds <s>)."""
    eos = tok.token_to_id("</s>")
    lines = [l for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]
    ids = []
    for enc in tok.encode_batch(lines):
        ids.extend(enc.ids)
        ids.append(eos)
    return np.array(ids, dtype=np.int64)


def windows(stream: np.ndarray, offset: int = 0) -> np.ndarray:
    n = (len(stream) - offset) // SEQ
    return stream[offset:offset + n * SEQ].reshape(n, SEQ)


@torch.no_grad()
def perplexity(model, rows: np.ndarray, batch: int = 32, autocast: bool = True) -> float:
    """exp(mean next-token NLL) over all predicted positions of non-overlapping rows."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(rows), batch):
        x = torch.from_numpy(rows[i:i + batch])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            logits = model(input_ids=x).logits.float()
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1), reduction="sum")
        total += nll.item()
        count += x[:, 1:].numel()
    model.train()
    return math.exp(total / count)


def lr_at(step: int, total: int) -> float:
    if step < WARMUP:
        return PEAK_LR * (step + 1) / WARMUP
    progress = (step - WARMUP) / max(1, total - WARMUP)
    return MIN_LR + 0.5 * (PEAK_LR - MIN_LR) * (1 + math.cos(math.pi * progress))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=0, help="stop early (for timing)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)

    tok = Tokenizer.from_file(str(TOKENIZER / "tokenizer.json"))
    train = encode_stream(tok, BUILD / "train.txt")
    val_rows = windows(encode_stream(tok, ROOT / "demo" / "data" / "eval.txt"))
    rows_per_epoch = len(train) // SEQ - 1
    steps_per_epoch = rows_per_epoch // BATCH
    total_steps = steps_per_epoch * args.epochs
    print(f"train stream {len(train)} tokens, {steps_per_epoch} steps/epoch, "
          f"{total_steps} steps; eval rows {len(val_rows)}", flush=True)

    config = model_config(tok)
    model = LlamaForCausalLM(config)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WEIGHT_DECAY},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=PEAK_LR, betas=(0.9, 0.95), eps=1e-8)

    log = {"parameters": n_params, "train_tokens": int(len(train)), "epochs": args.epochs,
           "steps": total_steps, "batch_rows": BATCH, "seq_len": SEQ, "seed": SEED,
           "threads": args.threads, "history": []}
    start = time.time()
    step = 0
    done = False
    for epoch in range(args.epochs):
        offset = int(rng.integers(0, SEQ))
        rows = windows(train, offset)[:steps_per_epoch * BATCH]
        order = rng.permutation(len(rows))
        for b in range(steps_per_epoch):
            x = torch.from_numpy(rows[order[b * BATCH:(b + 1) * BATCH]])
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total_steps)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model(input_ids=x, labels=x).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            if step % 10 == 0 or step == 1:
                el = time.time() - start
                rate = step * BATCH * SEQ / el
                eta = (total_steps - step) * BATCH * SEQ / rate
                print(f"epoch {epoch} step {step}/{total_steps} loss {loss.item():.4f} "
                      f"lr {lr_at(step - 1, total_steps):.2e} {rate:.0f} tok/s "
                      f"elapsed {el / 60:.1f} min eta {eta / 60:.1f} min", flush=True)
            if step % 100 == 0 or step == total_steps:
                ppl = perplexity(model, val_rows[:64])
                log["history"].append({"step": step, "train_loss": round(loss.item(), 4),
                                       "eval_ppl_subset": round(ppl, 3),
                                       "minutes": round((time.time() - start) / 60, 2)})
                print(f"  eval ppl (first 64 rows) {ppl:.3f}", flush=True)
            if args.max_steps and step >= args.max_steps:
                done = True
                break
        if done:
            break

    log["train_minutes"] = round((time.time() - start) / 60, 2)
    model.eval()
    model = model.to(torch.bfloat16)
    model.config.dtype = "bfloat16"
    tmp = OUT.with_name(OUT.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    GenerationConfig(bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
                     pad_token_id=config.pad_token_id, do_sample=True, temperature=0.8,
                     top_k=40, max_new_tokens=64).save_pretrained(tmp)
    for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
        shutil.copy(TOKENIZER / name, tmp / name)
    if (OUT / "README.md").exists():
        shutil.copy(OUT / "README.md", tmp / "README.md")
    shutil.rmtree(OUT, ignore_errors=True)
    tmp.rename(OUT)

    # Perplexity of the saved BF16 weights, computed in Float32 on the whole eval split.
    reloaded = LlamaForCausalLM.from_pretrained(OUT, dtype=torch.float32)
    log["eval_ppl"] = round(perplexity(reloaded, val_rows, autocast=False), 3)
    log["eval_tokens_scored"] = int(val_rows[:, 1:].size)
    print(f"eval perplexity (BF16 weights, FP32 compute, {len(val_rows)} rows of {SEQ}): "
          f"{log['eval_ppl']:.3f}", flush=True)
    (BUILD / "train_log.json").write_text(json.dumps(log, indent=1) + "\n")


if __name__ == "__main__":
    main()
