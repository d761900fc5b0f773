#!/usr/bin/env python3
"""A small random Phi-3 with a real tokenizer, for checking the Phi-3 GGUF export in llama.cpp
and against llama.cpp's converter (tools/check_gguf_llamacpp.py; not in CI, nothing committed).

    python tools/make_phi3_gguf_check_model.py TOKENIZER_FOLDER OUT [--longrope]

The tokenizer is copied from TOKENIZER_FOLDER (SmolLM2's byte-level BPE works: the converter's
Phi-3 reads a `GPT2Tokenizer` through its gpt2 vocabulary, which needs a pre-tokenizer it knows;
Phi-3's own SentencePiece needs tokenizer.model). The model: 4 layers, hidden 128, 4 heads of 32
(2 KV heads), partial rotary 0.75, weights drawn with std 0.1 (so the next-token distribution is
far from uniform and every part of the computation moves the perplexity), seeded. With
--longrope: LongRoPE with `original_max_position_embeddings` 128 and 4096 positions, so
llama.cpp (which picks the long factors for any context over 128) and Streamline (per sequence
longer than 128) both use the long factors on 512-token windows.

Name OUT without "phi3" or "phi-3": llama.cpp gives Phi-3's special tokens their attributes when
`general.name` (the folder's name) contains either, and then looks up "</s>", which SmolLM2's
vocabulary lacks, so the file would not load ("unordered_map::at"; the converter's too).
"""
import argparse
import json
import shutil
from pathlib import Path

import torch
from transformers import Phi3Config, Phi3ForCausalLM


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tokenizer", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--longrope", action="store_true")
    args = parser.parse_args()
    vocab = json.loads((args.tokenizer / "config.json").read_text())["vocab_size"]
    rope = {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.75}
    positions, original = 4096, 4096
    if args.longrope:
        rotated = int(32 * 0.75) // 2
        rope = {"rope_type": "longrope", "rope_theta": 10000.0, "partial_rotary_factor": 0.75,
                "short_factor": [1.0 + 0.05 * i for i in range(rotated)],
                "long_factor": [1.0 + 0.6 * i for i in range(rotated)]}
        original = 128
    config = Phi3Config(
        vocab_size=vocab, hidden_size=128, intermediate_size=256, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=positions,
        original_max_position_embeddings=original, rope_parameters=rope, rms_norm_eps=1e-5,
        initializer_range=0.1, tie_word_embeddings=False, sliding_window=None,
        bos_token_id=None, eos_token_id=None, pad_token_id=None)
    torch.manual_seed(0)
    model = Phi3ForCausalLM(config).to(torch.float32)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    for name in ["tokenizer.json", "special_tokens_map.json"]:
        if (args.tokenizer / name).exists():
            shutil.copy(args.tokenizer / name, args.out / name)
    tc = json.loads((args.tokenizer / "tokenizer_config.json").read_text())
    tc["tokenizer_class"] = "GPT2Tokenizer"
    tc.pop("chat_template", None)
    (args.out / "tokenizer_config.json").write_text(json.dumps(tc, indent=1))
    print(args.out)


if __name__ == "__main__":
    main()
