#!/usr/bin/env python3
"""Reference fixtures for Streamline's safetensors writer, and a cross-check of what it writes.

Needs torch, safetensors and transformers; never needed by the build or CI.

    python tools/check_safetensors_roundtrip.py generate
        Writes Tests/Fixtures/checkpoint/:
          reference.safetensors   safetensors.torch.save_file of mixed dtypes and awkward names,
                                  metadata {"format": "pt"}; the Swift tests rebuild it from its
                                  F32 source values and compare bytes.
          tiny-sharded/           a tiny random LlamaForCausalLM saved with
                                  save_pretrained(max_shard_size=SHARD), plus state_dict_order.json
                                  (the state-dict order save_pretrained walked, which the files do
                                  not record); the Swift tests re-save it and compare every file.

    STREAMLINE_CHECKPOINT_EXPORT=OUT swift test --filter CheckpointTests
    python tools/check_safetensors_roundtrip.py verify OUT
        Reads what the Swift tests exported with safetensors.safe_open and transformers, and
        compares bytes with what Python writes for the same tensors.
"""

import json
import os
import struct
import sys
import tempfile

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures", "checkpoint")
SHARD = 4000  # bytes; small enough for several shards and one tensor bigger than a shard


def special_values():
    """Float32 bit patterns whose bf16/f16 rounding is easy to get wrong."""
    bits = [
        0x3F800000, 0x3F808000, 0x3F818000, 0x3F808001, 0x3F80FFFF,  # bf16 ties and near-ties
        0x3F801000, 0x3F802000, 0x3F803000, 0x3F801001,  # f16 ties
        0x7F7FFFFF, 0x7F800000, 0xFF800000, 0x80000000, 0x00000000,  # max, ±inf, ±0
        0x00000001, 0x00018000, 0x33000000, 0x33000001, 0x33C00000,  # subnormals, f16 ties
        0x387FC000, 0x477FF000, 0x477FEFFF, 0xC77FF000,  # f16 subnormal edge, overflow edge
    ]
    return torch.frombuffer(bytearray(struct.pack("<%dI" % len(bits), *bits)), dtype=torch.float32)


def reference_tensors():
    g = torch.Generator().manual_seed(1234)
    base = torch.cat([special_values(), torch.randn(41, generator=g)])  # 64 values
    return {
        "values.f32": base.reshape(8, 8).clone(),
        "values.bf16": base.to(torch.bfloat16),
        "values.f16": base.reshape(4, 16).to(torch.float16),
        "counts": torch.arange(-3, 3, dtype=torch.int64),
        "mask": torch.tensor([True, False, True]),
        'odd "name"\\é\n\t\x01': torch.tensor([1.5, -2.25]),
        "scalar": torch.tensor(7, dtype=torch.int32),
        "empty": torch.zeros(0, 3),
        "a.bytes": torch.arange(5, dtype=torch.uint8),
    }


def generate():
    os.makedirs(FIXTURES, exist_ok=True)
    save_file(reference_tensors(), os.path.join(FIXTURES, "reference.safetensors"), metadata={"format": "pt"})

    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=40, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    folder = os.path.join(FIXTURES, "tiny-sharded")
    model.save_pretrained(folder, max_shard_size=SHARD)
    with open(os.path.join(folder, "state_dict_order.json"), "w") as f:
        json.dump({"max_shard_size": SHARD, "order": list(model.state_dict().keys())}, f, indent=1)
    print("wrote", FIXTURES)


def same_tensors(a, b):
    assert a.keys() == b.keys(), (sorted(a), sorted(b))
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert torch.equal(a[k].view(torch.uint8) if a[k].numel() else a[k],
                           b[k].view(torch.uint8) if b[k].numel() else b[k]), k


def save_like_transformers(state, folder, max_shard_size, total_parameters):
    """The file-writing part of transformers' save_pretrained (v4.4x - v5), for a given order."""
    from huggingface_hub import split_torch_state_dict_into_shards

    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    split = split_torch_state_dict_into_shards(
        state, filename_pattern="model{suffix}.safetensors", max_shard_size=max_shard_size)
    for filename, names in split.filename_to_tensors.items():
        save_file({k: state[k].contiguous() for k in names}, os.path.join(folder, filename), metadata={"format": "pt"})
    if split.is_sharded:
        index = {"metadata": {"total_parameters": total_parameters, **split.metadata},
                 "weight_map": split.tensor_to_filename}
        with open(os.path.join(folder, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
            f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")


def verify(out):
    with tempfile.TemporaryDirectory(prefix="safetensors-roundtrip-") as scratch:
        return verify_in(out, scratch)


def verify_in(out, scratch):
    """What Python writes for the same tensors goes into `scratch`."""
    failures = 0
    for name in sorted(os.listdir(out)):
        path = os.path.join(out, name)
        if name.endswith(".safetensors"):
            # safe_open parses the header with the Rust reference and reads every tensor.
            with safe_open(path, "pt") as f:
                loaded = {k: f.get_tensor(k) for k in f.keys()}
                meta = f.metadata()
            # Python writing the same tensors must give the same bytes.
            python = os.path.join(scratch, "python-" + name)
            save_file(loaded, python, metadata=meta)
            same = open(python, "rb").read() == open(path, "rb").read()
            failures += not same
            print(f"{name}: {len(loaded)} tensors read; bytes equal to save_file: {same}")
    for name in sorted(os.listdir(out)):
        folder = os.path.join(out, name)
        if os.path.isdir(folder) and os.path.exists(os.path.join(folder, "config.json")):
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained(folder)
            files = sorted(os.listdir(folder))
            reference = {}
            for f in files:
                if f.endswith(".safetensors"):
                    reference.update(load_file(os.path.join(folder, f)))
            state = {k: v for k, v in model.state_dict().items() if k in reference}
            same_tensors(state, reference)
            # Re-save as save_pretrained does (huggingface_hub's split, save_file, the index as
            # json.dumps(indent=2, sort_keys=True)) in the state-dict order the Swift side walked,
            # and compare the files byte for byte. (A model from from_pretrained may list its
            # state dict in another order than a freshly built one, hence the explicit order.)
            order_file = os.path.join(folder, "state_dict_order.json")
            if os.path.exists(order_file):
                spec = json.load(open(order_file))
                order, shard = spec["order"], spec["max_shard_size"]
            else:
                order, shard = list(model.state_dict().keys()), "5GB"
            again = os.path.join(scratch, "python-" + name)
            save_like_transformers({k: model.state_dict()[k] for k in order}, again, shard, model.num_parameters())
            mismatched = [f for f in files if f.endswith((".safetensors", ".index.json"))
                          and open(os.path.join(folder, f), "rb").read() != open(os.path.join(again, f), "rb").read()]
            failures += bool(mismatched)
            print(f"{name}/: transformers loaded {len(state)} tensors from {files}; "
                  f"files differing from save_pretrained: {mismatched or 'none'}")
    print("OK" if failures == 0 else f"{failures} FAILURES")
    return failures


if __name__ == "__main__":
    if sys.argv[1:2] == ["generate"]:
        generate()
    elif sys.argv[1:2] == ["verify"] and len(sys.argv) == 3:
        sys.exit(1 if verify(sys.argv[2]) else 0)
    else:
        print(__doc__)
        sys.exit(2)
