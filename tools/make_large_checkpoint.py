#!/usr/bin/env python3
"""Write a random Llama checkpoint of a large shape in BF16, shard by shard, without holding it
in memory (NumPy only), for checking that Streamline streams models larger than memory.

    python tools/make_large_checkpoint.py OUT [--shape 7b] [--tile]

The default shape is Llama-2-7B's (32 layers, hidden 4096, intermediate 11008, vocabulary 32000):
13.5 GB on disk, 27 GB in Float32. Then, e.g.:

    /usr/bin/time -v streamline analyze OUT --calibration OUT/calibration.jsonl \\
        --seq-len 64 --samples 2 --remove 4 --replace none
"""
import argparse
import json
import os
import struct

import numpy as np

SHAPES = {
    "7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
               num_attention_heads=32, num_key_value_heads=32, vocab_size=32000),
}


def bf16(shape, rng, scale, tile=False):
    if tile:
        # One random block of 2^20 values repeated: valid weights of the same scale, written at
        # disk speed (for measuring streaming, where the values do not matter).
        block = bf16((1 << 20,), rng, scale)
        count = int(np.prod(shape))
        return np.resize(block, count).reshape(shape)
    values = (rng.standard_normal(shape, dtype=np.float32) * scale).astype(np.float32)
    return (values.view(np.uint32) >> 16).astype(np.uint16)


def write_shard(path, tensors):
    header, offset = {}, 0
    for name, array in tensors:
        header[name] = {"dtype": "BF16", "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for _, array in tensors:
            f.write(array.tobytes())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--shape", default="7b", choices=sorted(SHAPES))
    parser.add_argument("--tile", action="store_true",
                        help="repeat one random block per tensor (fast; for streaming measurements)")
    args = parser.parse_args()
    shape = SHAPES[args.shape]
    os.makedirs(args.out, exist_ok=True)
    c, i, v = shape["hidden_size"], shape["intermediate_size"], shape["vocab_size"]
    kv = c // shape["num_attention_heads"] * shape["num_key_value_heads"]
    rng = np.random.default_rng(0)
    layers = shape["num_hidden_layers"]
    shards = [[("model.embed_tokens.weight", (v, c))]]
    for l in range(layers):
        p = f"model.layers.{l}."
        shards.append([(p + "input_layernorm.weight", (c,)), (p + "post_attention_layernorm.weight", (c,)),
                       (p + "self_attn.q_proj.weight", (c, c)), (p + "self_attn.k_proj.weight", (kv, c)),
                       (p + "self_attn.v_proj.weight", (kv, c)), (p + "self_attn.o_proj.weight", (c, c)),
                       (p + "mlp.gate_proj.weight", (i, c)), (p + "mlp.up_proj.weight", (i, c)),
                       (p + "mlp.down_proj.weight", (c, i))])
    shards.append([("model.norm.weight", (c,)), ("lm_head.weight", (v, c))])
    weight_map, total = {}, 0
    for index, specs in enumerate(shards):
        name = f"model-{index + 1:05d}-of-{len(shards):05d}.safetensors"
        tensors = []
        for tensor, dims in specs:
            scale = 0.0 if "norm" in tensor else 1 / np.sqrt(dims[-1])
            array = bf16(dims, rng, scale, args.tile) if scale else np.full(dims, 0x3F80, dtype=np.uint16)
            tensors.append((tensor, array))
            weight_map[tensor] = name
            total += array.nbytes
        write_shard(os.path.join(args.out, name), tensors)
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map},
              open(os.path.join(args.out, "model.safetensors.index.json"), "w"), indent=2)
    config = dict(shape, model_type="llama", rms_norm_eps=1e-5, rope_theta=10000.0,
                  max_position_embeddings=4096, tie_word_embeddings=False, torch_dtype="bfloat16")
    json.dump(config, open(os.path.join(args.out, "config.json"), "w"), indent=2)
    with open(os.path.join(args.out, "calibration.jsonl"), "w") as f:
        for _ in range(8):
            f.write(json.dumps({"input_ids": rng.integers(0, v, 64).tolist()}) + "\n")
    print("wrote", args.out, total / 1e9, "GB")


if __name__ == "__main__":
    main()
