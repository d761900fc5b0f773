#!/usr/bin/env python3
"""Train the demo model's byte-level BPE tokenizer on the train split.

Reproduce (from the repository root; see tools/demo/fetch_corpus.py for the whole sequence):

    python tools/demo/fetch_corpus.py
    python tools/demo/train_tokenizer.py   # -> demo/build/tokenizer/

The tokenizer is GPT-2-style byte-level BPE, 4096 tokens: ids 0..3 are the specials
<unk>, <s> (BOS), </s> (EOS), <pad> (Llama's order, plus a pad token), then the 256 byte
symbols, then merges learned from demo/build/train.txt (one chapter per line). The whole
byte alphabet is in the vocabulary, so <unk> never occurs; it is there for tools that
expect one.

BOS: tokenizer.json's post-processor is TemplateProcessing "<s> $A" (pair: "<s> $A <s> $B"),
so `tokenizer.encode(text)` and `AutoTokenizer.from_pretrained(folder)(text)` put <s> first;
`add_special_tokens=False` leaves it out. EOS is never added by the tokenizer: training
appends </s> after each chapter, as calibration joins documents with EOS.
tokenizer_config.json says the same (add_bos_token true, add_eos_token false) for tools
that read it. The trainer is deterministic for a given input file.
"""

import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "demo" / "build" / "train.txt"
OUT = ROOT / "demo" / "build" / "tokenizer"

VOCAB_SIZE = 4096
SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]
MODEL_MAX_LENGTH = 256


def build() -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train([str(TRAIN)], trainer)
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A",
        pair="<s> $A <s>:1 $B:1",
        special_tokens=[("<s>", bos)],
    )
    return tok


def main() -> None:
    tok = build()
    assert [tok.token_to_id(s) for s in SPECIALS] == [0, 1, 2, 3]
    OUT.mkdir(parents=True, exist_ok=True)
    tok.save(str(OUT / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": MODEL_MAX_LENGTH,
    }
    (OUT / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    special_map = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                   "pad_token": "<pad>"}
    (OUT / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2) + "\n")
    text = "In the beginning God created the heaven and the earth."
    enc = tok.encode(text)
    print(f"vocab {tok.get_vocab_size()}; {text!r} -> {len(enc.ids)} tokens: {enc.tokens}")
    words = sum(len(l.split()) for l in TRAIN.read_text().splitlines())
    ntok = sum(len(e.ids) - 1 for e in tok.encode_batch(TRAIN.read_text().splitlines()))
    print(f"train split: {words} words, {ntok} tokens ({ntok / words:.3f} tokens/word)")


if __name__ == "__main__":
    main()
