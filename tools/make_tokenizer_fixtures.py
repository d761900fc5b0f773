#!/usr/bin/env python3
"""Build the tokenizer fixtures used by Tests/TokenizersTests.

Trains small tokenizers of each family the Swift `Tokenizers` module must read (byte-level BPE
with the GPT-2, Llama 3 / cl100k and Qwen2 pre-tokenizers, SentencePiece-style BPE with byte
fallback as Llama 2 / Mistral ship it, WordPiece as BERT ships it, plus a few pipelines that
exercise the remaining normalizers, pre-tokenizers, post-processors and decoders) with the
Python `tokenizers` trainers on text found on this machine, then records what the reference
library produces for a corpus of hard strings: ids with and without special tokens, ids with
special-token text treated as plain text, tokens and decodes. It also records how the reference
splits those strings with a set of pre-tokenizer regexes, so the Swift regex engine can be
compared directly.

Run once with the project's virtualenv (tokenizers 0.23.3) and commit the output:

    python tools/make_tokenizer_fixtures.py --python-lib DIR

DIR is a Python standard library folder (`lib/python3.X`, with its `test/cjkencodings`) whose
text trains the tokenizers; the committed fixtures were made from Python 3.10.13's. The vim
tutor files (/usr/share/vim, from the vim package) are read too where present.

CI never runs this script.
"""

import argparse
import glob
import json
import os
import random
import sys

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
from tokenizers import pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "tokenizers")
PYTHON_LIB = None  # --python-lib: the standard library folder whose text trains the tokenizers

GPT2_PATTERN = (
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
)
CL100K_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
    r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
    r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
O200K_PATTERN = (
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+"
    r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}|"
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# tiktoken's own cl100k form: possessive quantifiers and `$`.
CL100K_POSSESSIVE = (
    r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|"
    r" ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"
)
# Assorted constructs: atomic groups, lazy quantifiers, classes, anchors, case folding, \w \d \h.
EXTRA_PATTERNS = [
    r"(?>\s+)(?!\S)|\S+",
    r"\w+|[^\w\s]+",
    r"\d+?\d|[a-z]+",
    r"(?i)hello|WORLD",
    r"^\s+|\s+$",
    r"[\p{Han}\p{Hiragana}\p{Katakana}]+",
    r"\p{Lu}\p{Ll}*",
    r"[[:punct:]]+|[[:alpha:]]+",
    r"\.\.\.|[.,;:!?]",
    r"\S+\s*",
    r"(?:ab|a)(?:bc|c)?",
    r"\X",
]

PATTERNS = [GPT2_PATTERN, CL100K_PATTERN, QWEN2_PATTERN, O200K_PATTERN, CL100K_POSSESSIVE]
PATTERNS += EXTRA_PATTERNS

HARD_STRINGS = [
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "Hello world",
    "Hello, world! How are you doing today?",
    " leading space",
    "trailing space ",
    "  two leading and two trailing  ",
    "multiple   spaces\tand\ttabs\t\tand\n\nnewlines\r\n\r\nend",
    "line one\nline two\n\n\nline five   \n  indented",
    "\n\n\n",
    "   \n   ",
    "a \n b",
    "x\u000by\u000cz\u0085w\u00a0v\u2028u\u3000t",
    "don't can't won't I'm you're they've we'll he'd it's",
    "DON'T CAN'T I'M YOU'RE THEY'VE WE'LL HE'D IT'S 'S 'LL 'Ve",
    "'s 't 're 've 'm 'll 'd ''s 'stop 'ſ 'K",
    "the cat's toy, the cats' toys",
    "1234567890 3.14159 -42 1,000,000 0x1F 1e-9",
    "12 123 1234 12345 123456",
    "١٢٣ ٤٥٦ ৭৮৯ ⅣⅧ ²³ ½",
    "naïve café résumé façade coöperate",
    "e\u0301 a\u0300 o\u0308 n\u0303",
    "\u0301",
    "\u0301\u0302\u0303 lone marks",
    "a\u0301\u0302\u0303\u0304\u0305",
    "Ångström K Ω",
    "ﬁ ﬂ ﬀ ﬃ ① ㍿ ｈｅｌｌｏ　ｗｏｒｌｄ",
    "日本語のテキストです。漢字、ひらがな、カタカナ。",
    "中文文本，包括标点符号！还有数字123。",
    "한국어 텍스트입니다. 안녕하세요!",
    "Русский текст с пунктуацией: «привет», — мир!",
    "Ελληνικά: Καλημέρα κόσμε",
    "עברית: שלום עולם",
    "العربية: مرحبا بالعالم",
    "हिन्दी: नमस्ते दुनिया",
    "ไทย: สวัสดีชาวโลก",
    "Tiếng Việt: Xin chào thế giới",
    "mixed English日本語English中文English",
    "emoji 😀😃😄 and 👍🏽 skin tone",
    "ZWJ family 👨\u200d👩\u200d👧\u200d👦 and flag 🇫🇷 🏳️\u200d🌈",
    "keycap 1️⃣ #️⃣ and variation ☺︎ ☺️",
    "new emoji 🥰 🫠 🪿",
    "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom",
    "NUL\u0000char and \u0001\u0002\u0003 controls \u007f\u009f",
    "replacement \ufffd char",
    "private use \ue000\uf8ff and noncharacter \ufdd0",
    "supplementary 𝐀𝐁𝐂 𝔸𝔹 𠀀𠀁 𝟘𝟙",
    "superlongwordwithoutanyspacesatallthatgoesonandonandonforeverandeverandeverandeveragain"
    "andagainandagainuntilitisverylongindeed",
    "a" * 300,
    "ab" * 150,
    "!!!!!!!!!!!!!!!!!!!!!??????????????........",
    "<s>Hello</s>",
    "<|endoftext|>",
    "text<|endoftext|>more text <|endoftext|> spaced <|endoftext|>",
    "<|begin_of_text|>Hi<|eot_id|>",
    "[CLS] bert [SEP] tokens [MASK] here [PAD]",
    "<s> leading special",
    "special at end </s>",
    "inline <unk> token",
    "added token: foo_bar and foo_barbaz and  foo_bar  and xfoo_bar",
    "lstrip   <mask> rstrip <mask>   both",
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
    "def f(x):\n    return x ** 2  # comment\n",
    "    indented code\n\tif (a && b) { c++; }\n",
    "https://example.com/path?query=1&x=y#frag",
    "email: someone@example.org, phone: +1 (555) 123-4567",
    "C++ C# .NET F# Objective-C",
    "$100 €50 £30 ¥1000 ₹200 ₿",
    "snake_case camelCase PascalCase kebab-case SCREAMING_CASE",
    "I've been there. You'd've known. Y'ALL'D",
    "tab\tseparated\tvalues\t",
    "ends with newline\n",
    " \t \n mixed whitespace \t\n ",
    "İstanbul ǅ ǈ ẞ ß Σσς",
    "ﷺ ﷽",
    "𓀀𓀁 ancient",
    "▁already▁has▁metaspace ▁",
    "ĠĠ byte level chars Ġ Ċ",
    "<0x41> literal byte token text",
    "##suffix ## #",
]


def read_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def training_text():
    texts = []
    for path in sorted(glob.glob("/usr/share/vim/vim*/tutor/tutor*.utf-8")):
        texts.append(read_text(path))
    pydir = PYTHON_LIB
    for path in sorted(glob.glob(pydir + "/test/cjkencodings/*-utf8.txt")):
        texts.append(read_text(path))
    for name in ["textwrap.py", "difflib.py", "argparse.py", "string.py", "json/decoder.py"]:
        path = os.path.join(pydir, name)
        if os.path.exists(path):
            texts.append(read_text(path))
    texts.append("\n".join(HARD_STRINGS))
    return texts


def sample_lines():
    """Ordinary lines of several languages, to check more than the hand-made corner cases."""
    rng = random.Random(1234)
    lines = []
    for path in sorted(glob.glob("/usr/share/vim/vim*/tutor/tutor*.utf-8"))[:40]:
        candidates = [l for l in read_text(path).split("\n") if len(l.strip()) > 20]
        lines += rng.sample(candidates, min(2, len(candidates)))
    pydir = PYTHON_LIB
    for path in sorted(glob.glob(pydir + "/test/cjkencodings/*-utf8.txt"))[:6]:
        candidates = [l for l in read_text(path).split("\n") if len(l.strip()) > 10]
        lines += rng.sample(candidates, min(2, len(candidates)))
    src = [l for l in read_text(pydir + "/argparse.py").split("\n") if l.strip()]
    lines += rng.sample(src, 8)
    return lines


def byte_level_bpe(pre_tokenizer, normalizer=None, vocab_size=1200, special=None, **model_kw):
    tok = Tokenizer(models.BPE(**model_kw))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=special or [],
        show_progress=False,
    )
    tok.train_from_iterator(training_text(), trainer=trainer)
    return tok


def make_gpt2():
    tok = byte_level_bpe(
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        special=["<|endoftext|>"],
    )
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_tokens([AddedToken("foo_bar", single_word=True, normalized=True)])
    return tok


def make_llama3():
    tok = byte_level_bpe(
        pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(CL100K_PATTERN), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
            ]
        ),
        special=["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"],
        ignore_merges=True,
    )
    tok.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single="<|begin_of_text|> $A",
                pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
                special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))],
            ),
        ]
    )
    tok.add_tokens([AddedToken("<mask>", lstrip=True, rstrip=True, normalized=False)])
    return tok


def make_qwen2():
    tok = byte_level_bpe(
        pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
            ]
        ),
        normalizer=normalizers.NFC(),
        special=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
    )
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_tokens([AddedToken("<mask>", lstrip=True, normalized=False)])
    return tok


def sentencepiece_bpe(metaspace):
    """Llama 2 / Mistral style: ▁ for spaces, byte fallback tokens <0x00>..<0xFF> in the vocab."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]
    )
    tok.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
    trainer = trainers.BpeTrainer(
        vocab_size=900,
        special_tokens=["<unk>", "<s>", "</s>"],
        limit_alphabet=400,
        show_progress=False,
    )
    tok.train_from_iterator(training_text(), trainer=trainer)
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    ordered = sorted(vocab.items(), key=lambda kv: kv[1])
    new_vocab = {}
    for t, _ in ordered[:3]:
        new_vocab[t] = len(new_vocab)
    for b in range(256):
        new_vocab["<0x%02X>" % b] = len(new_vocab)
    for t, _ in ordered[3:]:
        if t not in new_vocab:
            new_vocab[t] = len(new_vocab)
    spec["model"]["vocab"] = new_vocab
    for a in spec["added_tokens"]:
        a["id"] = new_vocab[a["content"]]
    if metaspace:
        spec["normalizer"] = None
        spec["pre_tokenizer"] = {
            "type": "Metaspace",
            "replacement": "▁",
            "prepend_scheme": "first",
            "split": False,
        }
    else:
        spec["pre_tokenizer"] = None
    spec["decoder"] = {
        "type": "Sequence",
        "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ],
    }
    bos, eos = new_vocab["<s>"], new_vocab["</s>"]
    spec["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [
            {"SpecialToken": {"id": "<s>", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
        ],
        "pair": [
            {"SpecialToken": {"id": "<s>", "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": "<s>", "type_id": 1}},
            {"Sequence": {"id": "B", "type_id": 1}},
        ],
        "special_tokens": {
            "<s>": {"id": "<s>", "ids": [bos], "tokens": ["<s>"]},
        },
    }
    # Llama 2 keeps legacy "a b" merges; Mistral-like keeps pairs.
    if not metaspace:
        spec["model"]["merges"] = [" ".join(m) for m in spec["model"]["merges"]]
    tok = Tokenizer.from_str(json.dumps(spec))
    return tok


def make_bert():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=1500,
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
        show_progress=False,
    )
    tok.train_from_iterator(training_text(), trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    tok.add_tokens([AddedToken("foo_bar", single_word=True, lstrip=True, normalized=True)])
    return tok


def make_variants(gpt2, bert):
    """Pipelines exercising the remaining components on a trained vocabulary."""
    out = {}
    bl = json.loads(gpt2.to_str())

    def with_(base, **parts):
        spec = json.loads(json.dumps(base))
        for k, v in parts.items():
            spec[k] = v
        return Tokenizer.from_str(json.dumps(spec))

    # Unicode normalizers + Whitespace pre-tokenizer, decoded by joining with spaces (no decoder).
    out["misc_whitespace"] = with_(
        bl,
        normalizer={
            "type": "Sequence",
            "normalizers": [
                {"type": "NFKD"},
                {"type": "StripAccents"},
                {"type": "Lowercase"},
                {"type": "Replace", "pattern": {"Regex": "\\s{2,}"}, "content": " "},
                {"type": "Strip", "strip_left": True, "strip_right": True},
            ],
        },
        pre_tokenizer={
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Whitespace"},
                {"type": "Digits", "individual_digits": True},
                {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                 "use_regex": False},
            ],
        },
        post_processor={
            "type": "RobertaProcessing",
            "sep": ["<|endoftext|>", gpt2.token_to_id("<|endoftext|>")],
            "cls": ["<|endoftext|>", gpt2.token_to_id("<|endoftext|>")],
            "trim_offsets": True,
            "add_prefix_space": True,
        },
        decoder=None,
    )
    # NFKC, Punctuation, WhitespaceSplit, contiguous Digits, Metaspace with split, Bert processing.
    out["misc_metaspace"] = with_(
        bl,
        normalizer={"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "NFD"},
                                                        {"type": "NFC"}]},
        pre_tokenizer={
            "type": "Sequence",
            "pretokenizers": [
                {"type": "WhitespaceSplit"},
                {"type": "Punctuation", "behavior": "Contiguous"},
                {"type": "Digits", "individual_digits": False},
                {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always",
                 "split": True},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                 "use_regex": False},
            ],
        },
        post_processor={
            "type": "BertProcessing",
            "sep": ["<|endoftext|>", gpt2.token_to_id("<|endoftext|>")],
            "cls": ["<|endoftext|>", gpt2.token_to_id("<|endoftext|>")],
        },
        decoder={"type": "Sequence", "decoders": [{"type": "ByteLevel", "add_prefix_space": True,
                                                   "trim_offsets": True, "use_regex": True},
                                                  {"type": "Metaspace", "replacement": "▁",
                                                   "prepend_scheme": "always", "split": True}]},
    )
    # Split with every behaviour and invert, string and regex patterns.
    behaviours = ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]
    for b in behaviours:
        for invert in (False, True):
            out["split_%s%s" % (b.lower(), "_invert" if invert else "")] = with_(
                bl,
                normalizer=None,
                pre_tokenizer={
                    "type": "Sequence",
                    "pretokenizers": [
                        {"type": "Split", "pattern": {"Regex": "[\\s\\p{P}]+"},
                         "behavior": b, "invert": invert},
                        {"type": "Split", "pattern": {"String": "e"}, "behavior": b,
                         "invert": False},
                        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                         "use_regex": False},
                    ],
                },
                post_processor=None,
            )
    # BPE with continuing_subword_prefix and end_of_word_suffix (and unk without byte fallback).
    cs = Tokenizer(
        models.BPE(unk_token="<unk>", continuing_subword_prefix="##", end_of_word_suffix="</w>")
    )
    cs.normalizer = normalizers.Lowercase()
    cs.pre_tokenizer = pre_tokenizers.Whitespace()
    cs.decoder = decoders.BPEDecoder(suffix="</w>")
    trainer = trainers.BpeTrainer(
        vocab_size=800,
        special_tokens=["<unk>", "<pad>"],
        continuing_subword_prefix="##",
        end_of_word_suffix="</w>",
        limit_alphabet=200,
        show_progress=False,
    )
    cs.train_from_iterator(training_text(), trainer=trainer)
    spec = json.loads(cs.to_str())
    spec["decoder"] = {
        "type": "Sequence",
        "decoders": [
            {"type": "Replace", "pattern": {"String": "</w>"}, "content": " "},
            {"type": "WordPiece", "prefix": "##", "cleanup": False},
            {"type": "Strip", "content": " ", "start": 0, "stop": 1},
        ],
    }
    out["bpe_prefix_suffix"] = Tokenizer.from_str(json.dumps(spec))
    return out


def record(tok, strings):
    """Reference results, aligned with `strings`. Redundant entries are stored as null to keep
    the fixtures small: `ids_no_special` when equal to `ids`, `ids_plain_special_text` when equal
    to `ids_no_special`, a decode when equal to the input text."""
    out = {k: [] for k in ["ids", "ids_no_special", "ids_plain_special_text", "decoded",
                           "decoded_skip_special"]}
    for s in strings:
        ids = tok.encode(s, add_special_tokens=True).ids
        without = tok.encode(s, add_special_tokens=False).ids
        tok.encode_special_tokens = True
        plain = tok.encode(s, add_special_tokens=False).ids
        tok.encode_special_tokens = False
        decoded = tok.decode(ids, skip_special_tokens=False)
        skipped = tok.decode(ids, skip_special_tokens=True)
        out["ids"].append(ids)
        out["ids_no_special"].append(None if without == ids else without)
        out["ids_plain_special_text"].append(None if plain == without else plain)
        out["decoded"].append(None if decoded == s else decoded)
        out["decoded_skip_special"].append(None if skipped == decoded else skipped)
    return out


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def main():
    global PYTHON_LIB
    parser = argparse.ArgumentParser(description="Build the tokenizer fixtures (Tests/Fixtures/tokenizers).")
    parser.add_argument("--python-lib", required=True,
                        help="a Python standard library folder (lib/python3.X) whose text trains the "
                             "tokenizers; the committed fixtures used Python 3.10.13's")
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.python_lib, "argparse.py")):
        parser.error(f"--python-lib {args.python_lib}: no argparse.py there, not a standard library folder")
    PYTHON_LIB = args.python_lib.rstrip("/")
    os.makedirs(OUT, exist_ok=True)
    strings = HARD_STRINGS + sample_lines()
    gpt2 = make_gpt2()
    bert = make_bert()
    families = {
        "gpt2": gpt2,
        "llama3": make_llama3(),
        "qwen2": make_qwen2(),
        "llama2": sentencepiece_bpe(metaspace=False),
        "mistral": sentencepiece_bpe(metaspace=True),
        "bert": bert,
    }
    configs = {
        "llama2": (
            {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>",
             "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
             "tokenizer_class": "LlamaTokenizer"},
            {"bos_token": {"content": "<s>", "lstrip": False, "normalized": False,
                           "rstrip": False, "single_word": False},
             "eos_token": "</s>", "unk_token": "<unk>"},
        ),
        "bert": (
            {"do_lower_case": True, "unk_token": "[UNK]", "sep_token": "[SEP]",
             "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"},
            None,
        ),
        "qwen2": (
            {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "bos_token": None,
             "add_prefix_space": False},
            None,
        ),
    }
    write_json(os.path.join(OUT, "corpus.json"), {"hard_count": len(HARD_STRINGS), "strings": strings})
    for name, tok in families.items():
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        tok.save(os.path.join(d, "tokenizer.json"), pretty=False)
        if name in configs:
            cfg, stm = configs[name]
            write_json(os.path.join(d, "tokenizer_config.json"), cfg)
            if stm is not None:
                write_json(os.path.join(d, "special_tokens_map.json"), stm)
        # Reload from disk so the recorded ids come from exactly what is committed.
        reloaded = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        write_json(os.path.join(d, "reference.json"), record(reloaded, strings))
        print(name, reloaded.get_vocab_size(), file=sys.stderr)

    # Variants: the GPT-2 fixture with other pipeline pieces, stored as overrides of its JSON,
    # checked on the hand-made strings only.
    base = json.loads(gpt2.to_str())
    variants = []
    for name, tok in make_variants(gpt2, bert).items():
        spec = json.loads(tok.to_str())
        if spec["model"] == base["model"]:
            override = {k: spec[k] for k in ["normalizer", "pre_tokenizer", "post_processor",
                                             "decoder"]}
            entry = {"name": name, "base": "gpt2", "override": override}
        else:
            d = os.path.join(OUT, name)
            os.makedirs(d, exist_ok=True)
            tok.save(os.path.join(d, "tokenizer.json"), pretty=False)
            entry = {"name": name, "base": name, "override": {}}
        entry["reference"] = record(tok, HARD_STRINGS)
        variants.append(entry)
        print(name, file=sys.stderr)
    write_json(os.path.join(OUT, "variants.json"), variants)

    splits = []
    for p in PATTERNS:
        pt = pre_tokenizers.Split(Regex(p), behavior="isolated")
        splits.append(
            {"pattern": p, "lengths": [[len(w) for w, _ in pt.pre_tokenize_str(s)]
                                       for s in strings]}
        )
    write_json(os.path.join(OUT, "regex_splits.json"), splits)

    pre = []
    for name, pt in [
        ("Whitespace", pre_tokenizers.Whitespace()),
        ("WhitespaceSplit", pre_tokenizers.WhitespaceSplit()),
        ("BertPreTokenizer", pre_tokenizers.BertPreTokenizer()),
        ("Punctuation", pre_tokenizers.Punctuation()),
        ("Digits", pre_tokenizers.Digits(individual_digits=False)),
        ("ByteLevel", pre_tokenizers.ByteLevel(add_prefix_space=True)),
        ("Metaspace", pre_tokenizers.Metaspace(prepend_scheme="first")),
    ]:
        pre.append({"pre_tokenizer": json.loads(pt.__getstate__()) if hasattr(pt, "__getstate__")
                    else name, "name": name,
                    "pieces": [[w for w, _ in pt.pre_tokenize_str(s)] for s in HARD_STRINGS]})
    write_json(os.path.join(OUT, "pre_tokenizer_splits.json"), pre)

    norms = []
    for name, n in [
        ("NFC", normalizers.NFC()),
        ("NFD", normalizers.NFD()),
        ("NFKC", normalizers.NFKC()),
        ("NFKD", normalizers.NFKD()),
        ("Lowercase", normalizers.Lowercase()),
        ("BertNormalizer", normalizers.BertNormalizer()),
        ("StripAccents", normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents()])),
    ]:
        norms.append({"name": name, "normalized": [n.normalize_str(s) for s in HARD_STRINGS]})
    write_json(os.path.join(OUT, "normalizer_cases.json"), norms)

    # Error-path fixtures.
    unigram = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": None, "pre_tokenizer": None, "post_processor": None, "decoder": None,
        "model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["a", -1.0]],
                  "byte_fallback": False},
    }
    os.makedirs(os.path.join(OUT, "errors"), exist_ok=True)
    write_json(os.path.join(OUT, "errors", "unigram.json"), unigram)
    with open(os.path.join(OUT, "errors", "malformed.json"), "w") as f:
        f.write('{"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0}, ')


if __name__ == "__main__":
    main()
