#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (Fuzz/corpus/TARGET/seed-*) from the test
fixtures. Seeds are kept small: libFuzzer's speed, and so its reach, falls with input size, so
tokenizers are cut down to a few dozen vocabulary entries that keep every pipeline stage.
Regression inputs (regress-*) found by fuzzing are kept beside them and never rewritten."""
import glob
import json
import os

ROOT = os.path.join(os.path.dirname(__file__), "..")
FIX = os.path.join(ROOT, "Tests", "Fixtures")
OUT = os.path.join(ROOT, "Fuzz", "corpus")


def write(target, name, data):
    folder = os.path.join(OUT, target)
    os.makedirs(folder, exist_ok=True)
    for old in glob.glob(os.path.join(folder, "seed-" + name)):
        os.remove(old)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def read(path):
    with open(os.path.join(FIX, path), "rb") as f:
        return f.read()


def small_tokenizer(path, keep=48):
    t = json.loads(read(path))
    model = t["model"]
    vocab = model.get("vocab")
    if isinstance(vocab, dict):
        kept = dict(sorted(vocab.items(), key=lambda kv: kv[1])[:keep])
        model["vocab"] = kept
        if "merges" in model:
            merges = []
            for m in model["merges"]:
                a, b = m if isinstance(m, list) else m.split(" ", 1)
                if a in kept and b in kept and a + b in kept:
                    merges.append(m)
            model["merges"] = merges[:24]
    t["added_tokens"] = t.get("added_tokens", [])[:4]
    return json.dumps(t, ensure_ascii=False, separators=(",", ":"))


texts = json.loads(read("tokenizers/corpus.json"))["strings"]
samples = [s for s in texts if isinstance(s, str) and 0 < len(s.encode()) <= 200][:12]

for p in ["checkpoint/reference.safetensors", "gradients/optimizer.safetensors"] + sorted(
    os.path.relpath(p, FIX) for p in glob.glob(os.path.join(FIX, "checkpoint/tiny-sharded/*.safetensors"))
)[:3]:
    write("fuzz-safetensors", os.path.basename(p), read(p))

index = {"metadata": {"total_size": 12},
         "weight_map": {"x": "a.safetensors", "y": "a.safetensors", "z": "b.safetensors"}}
write("fuzz-index", "valid.json", json.dumps(index))
write("fuzz-index", "fixture.json", read("checkpoint/tiny-sharded/model.safetensors.index.json"))

for p in sorted(glob.glob(os.path.join(FIX, "models/*/config.json"))):
    write("fuzz-config", os.path.basename(os.path.dirname(p)) + ".json", open(p, "rb").read())

for name in ["gpt2", "llama2", "llama3", "mistral", "qwen2", "bert", "bpe_prefix_suffix"]:
    small = small_tokenizer(f"tokenizers/{name}/tokenizer.json")
    write("fuzz-tokenizer", name + ".bin", small + "\0" + samples[len(name) % len(samples)])

for i, s in enumerate(samples):
    write("fuzz-encode", f"{i}.bin", bytes([i]) + s.encode())

added = [{"id": 7, "content": "<|x|>", "single_word": False, "lstrip": False, "rstrip": False,
          "normalized": False, "special": True},
         {"id": 8, "content": "ab", "single_word": True, "lstrip": True, "rstrip": True,
          "normalized": True, "special": False}]
config = {"bos_token": "<s>", "eos_token": {"content": "</s>"}, "pad_token": None,
          "add_bos_token": True}
write("fuzz-added-tokens", "basic.bin",
      json.dumps(added) + "\0" + json.dumps(config) + "\0" + "hello <|x|> ab b a</s>")
write("fuzz-added-tokens", "config.bin",
      "[]\0" + read("tokenizers/llama2/tokenizer_config.json").decode() + "\0<s> a b")

for p in sorted(glob.glob(os.path.join(FIX, "eval/tasks/*.jsonl"))):
    write("fuzz-task", os.path.basename(p), b"\0" + open(p, "rb").read())
for p in sorted(glob.glob(os.path.join(FIX, "eval/malformed/*.jsonl")))[:4]:
    write("fuzz-task", "malformed-" + os.path.basename(p), b"\0" + open(p, "rb").read())

write("fuzz-calibration", "ids.jsonl", b"\0" + read("importance/calibration.jsonl"))
write("fuzz-calibration", "docs.jsonl", b"\0" + read("eval/text/docs.jsonl"))
write("fuzz-calibration", "article.txt", b"\1" + read("eval/text/article.txt"))
write("fuzz-calibration", "lines.txt", b"\2" + read("eval/text/article.txt")[:300])

write("fuzz-token-ids", "tokens.txt", read("models/llama-sharded/tokens.txt"))
write("fuzz-token-ids", "json.txt", "[1, 2, 3]\n\n[4,5]\n")
write("fuzz-token-ids", "commas.txt", "1,2,3\t4\n7 8 9\n")
