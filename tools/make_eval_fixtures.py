#!/usr/bin/env python3
"""Make the evaluation fixtures: tiny models with real tokenizers, small task files in each native
layout, and reference numbers from lm-eval 0.4 (Hugging Face backend), transformers and NumPy.

    python tools/make_eval_fixtures.py [--out Tests/Fixtures/eval]

Writes under OUT:
  models/llama        4-layer Llama with the llama2 fixture tokenizer (adds BOS, SentencePiece style)
  models/llama-pruned the same with layer 2 removed (a "compressed" model: same vocabulary)
  models/qwen2        3-layer Qwen2 with the qwen2 fixture tokenizer (byte-level, no BOS)
  tasks/*.jsonl       a few items per layout: generic, piqa, hellaswag, arc_easy, arc_challenge,
                      boolq, winogrande, openbookqa, rte
  text/*.txt|jsonl    text for perplexity
  predictions/*.jsonl lm-eval's per-choice log-likelihoods in streamline's predictions format
  reference.json      everything the Swift tests compare against

Multiple-choice references come from `lm_eval.simple_evaluate` with the registered task configs,
their dataset pointed at the local JSONL files (prompts, preprocessing and metrics are lm-eval's
own). Perplexity comes from HFLM.loglikelihood_rolling (stride = seq_len) and from a direct
transformers computation of the same rolling windows (any stride). Stability and KL divergence
are computed directly with NumPy.
"""
import argparse
import json
import os
import re
import shutil

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, Qwen2Config
from tokenizers import Tokenizer as RawTokenizer

import lm_eval
from lm_eval import utils as lm_utils
from lm_eval.api.instance import Instance
from lm_eval.api.metrics import mean_stderr
from lm_eval.models.huggingface import HFLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZERS = os.path.join(ROOT, "Tests/Fixtures/tokenizers")

COMMON = dict(hidden_size=48, intermediate_size=96, num_attention_heads=4, num_key_value_heads=2,
              rms_norm_eps=1e-5, max_position_embeddings=512)

# ----------------------------------------------------------------------------------------------
# Task items (written for this fixture; content is plausible, answers are what they are).

GENERIC = [
    {"context": "The capital of France is", "choices": ["Paris", "London", "Berlin"], "label": 0},
    {"context": "Water freezes at", "choices": ["zero degrees", "a hundred degrees"], "label": 0},
    {"context": "A cat says ", "choices": ["meow", "woof", "moo", "quack"], "label": 0},
    {"context": "2 + 2 =", "choices": ["4", "5"], "label": 0},
    {"context": "The opposite of hot is", "choices": ["cold", "warm", "spicy"], "label": 0},
    {"context": "Café au lait contains", "choices": ["milk", "tea"], "label": 0},
]

PIQA = [
    {"goal": "How do I ready a guinea pig cage for it's new occupants?",
     "sol1": "Provide the guinea pig with a cage full of a few inches of bedding made of ripped paper strips, you will also need to supply it with a water bottle and a food dish.",
     "sol2": "Provide the guinea pig with a cage full of a few inches of bedding made of ripped jeans material, you will also need to supply it with a water bottle and a food dish.",
     "label": 0},
    {"goal": "dresser", "sol1": "replace drawer with bobby pin ", "sol2": "finish, woodwork with bobby pin ", "label": 1},
    {"goal": "To make a bread crumb topping,", "sol1": "crush crackers in a bag with a rolling pin.",
     "sol2": "crush crackers in a bag with a hair dryer.", "label": 0},
    {"goal": "Keep a glass from sweating.", "sol1": "Put a coaster under it.",
     "sol2": "Put it in the oven.", "label": 0},
    {"goal": "how to clean a whiteboard", "sol1": "wipe it with rubbing alcohol",
     "sol2": "wipe it with peanut butter", "label": 0},
]

HELLASWAG = [
    {"ind": 24, "activity_label": "Roof shingle removal", "ctx_a": "A man is sitting on a roof.",
     "ctx_b": "he", "ctx": "A man is sitting on a roof. he",
     "endings": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.",
                 "is holding a rubik's cube.", "starts pulling up roofing on a roof."],
     "source_id": "activitynet~v_-JhWjGDPHMY", "split": "val", "split_type": "indomain", "label": "3"},
    {"ind": 92, "activity_label": "Clean and jerk",
     "ctx_a": "A lady walks to a barbell. She bends down and grabs the pole.", "ctx_b": "the lady",
     "ctx": "A lady walks to a barbell. She bends down and grabs the pole. the lady",
     "endings": ["swings and lands in her arms.", "pulls the barbell forward.",
                 "pulls a rope attached to the barbell.", "stands and lifts the weight over her head."],
     "source_id": "activitynet~v_-lJS58hyo1c", "split": "val", "split_type": "zeroshot", "label": "3"},
    {"ind": 4, "activity_label": "Home and Garden",
     "ctx_a": "[header] How to clean a grill [title] Scrape the grates.",
     "ctx_b": "use a wire brush", "ctx": "",
     "endings": ["[step] Brush off the debris. [title] Rinse it.", "and eat the debris.",
                 "to paint the grill [substeps] Red is best.", "while singing loudly."],
     "source_id": "wikihow~1", "split": "val", "split_type": "indomain", "label": "0"},
    {"ind": 7, "activity_label": "Sharpening knives", "ctx_a": "A man holds a knife.",
     "ctx_b": "", "ctx": "A man holds a knife. ",
     "endings": ["He slides it along a whetstone.", "He eats it.", "He sings to it.",
                 "He mails it to the moon."],
     "source_id": "activitynet~x", "split": "val", "split_type": "indomain", "label": "0"},
]

ARC_EASY = [
    {"id": "Mercury_7175875", "question": "An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect of this increase in rotation?",
     "choices": {"text": ["Planetary density will decrease.", "Planetary years will become longer.",
                          "Planetary days will become shorter.", "Planetary gravity will become stronger."],
                 "label": ["A", "B", "C", "D"]}, "answerKey": "C"},
    {"id": "NYSEDREGENTS_2015_4_29", "question": "Which object is a good conductor of electricity?",
     "choices": {"text": ["a rubber band", "a copper wire", "a wooden spoon"], "label": ["1", "2", "3"]},
     "answerKey": "2"},
    {"id": "x3", "question": "What do plants need to make food?",
     "choices": {"text": ["sunlight", "darkness", "sand", "salt", "noise"],
                 "label": ["A", "B", "C", "D", "E"]}, "answerKey": "A"},
    {"id": "x4", "question": "Which is a mammal?",
     "choices": {"text": ["shark", "whale", "trout", "eel"], "label": ["A", "B", "C", "D"]},
     "answerKey": "B"},
]

ARC_CHALLENGE = [
    {"id": "Mercury_SC_415702", "question": "George wants to warm his hands quickly by rubbing them. Which skin surface will produce the most heat?",
     "choices": {"text": ["dry palms", "wet palms", "palms covered with oil", "palms covered with lotion"],
                 "label": ["A", "B", "C", "D"]}, "answerKey": "A"},
    {"id": "c2", "question": "Which property of a mineral can be determined just by looking at it?",
     "choices": {"text": ["luster", "mass", "weight", "hardness"], "label": ["A", "B", "C", "D"]},
     "answerKey": "A"},
    {"id": "c3", "question": "A student heats 10 g of ice. What happens to the ice first?",
     "choices": {"text": ["It melts.", "It boils.", "It freezes."], "label": ["A", "B", "C"]},
     "answerKey": "A"},
]

BOOLQ = [
    {"question": "do iran and afghanistan speak the same language",
     "passage": "Persian language -- Persian, also known by its endonym Farsi, is one of the Western Iranian languages.",
     "idx": 0, "label": 1},
    {"question": "is the sun a star", "passage": "The Sun is the star at the center of the Solar System.",
     "idx": 1, "label": 1},
    {"question": "can penguins fly", "passage": "Penguins are a group of aquatic flightless birds.",
     "idx": 2, "label": 0},
    {"question": "is water wet", "passage": "Water is an inorganic compound.", "idx": 3, "label": 1},
]

WINOGRANDE = [
    {"sentence": "Sarah was a much better surgeon than Maria so _ always got the harder cases.",
     "option1": "Sarah", "option2": "Maria", "answer": "1"},
    {"sentence": "The trophy doesn't fit into the brown suitcase because the _ is too large.",
     "option1": "trophy", "option2": "suitcase", "answer": "1"},
    {"sentence": "I poured water from the bottle into the cup until the _ was full.",
     "option1": "bottle", "option2": "cup", "answer": "2"},
    {"sentence": "Kevin gave Bob a gift because _ had a birthday.", "option1": "Kevin",
     "option2": "Bob", "answer": "2"},
]

OPENBOOKQA = [
    {"id": "7-980", "question_stem": "The sun is responsible for",
     "choices": {"text": ["puppies learning new tricks", "children growing up and getting old",
                          "flowers wilting in a vase", "plants sprouting, blooming and wilting"],
                 "label": ["A", "B", "C", "D"]}, "answerKey": "D"},
    {"id": "7-584", "question_stem": "When standing miles away from Mount Rushmore",
     "choices": {"text": ["the mountains seem very close", "the mountains are boring",
                          "the mountains look the same as from up close", "the mountains seem smaller than in photographs"],
                 "label": ["A", "B", "C", "D"]}, "answerKey": "D"},
    {"id": "o3", "question_stem": "A magnet will stick to",
     "choices": {"text": ["a wooden table", "an iron nail", "a glass cup", "a paper towel"],
                 "label": ["A", "B", "C", "D"]}, "answerKey": " B"},
]

RTE = [
    {"sentence1": "No Weapons of Mass Destruction Found in Iraq Yet.",
     "sentence2": "Weapons of Mass Destruction Found in Iraq.", "label": 1, "idx": 0},
    {"sentence1": "A place of sorrow, after Pope John Paul II died, became a place of celebration.",
     "sentence2": "Pope John Paul II died.", "label": 0, "idx": 1},
    {"sentence1": "Herceptin was already approved to treat the sickest breast cancer patients.",
     "sentence2": "Herceptin can be used to treat breast cancer.", "label": 0, "idx": 2},
    {"sentence1": "Judie Vivian, chief executive at ProMedica, spoke.",
     "sentence2": "The CEO of ProMedica is a man.", "label": 1, "idx": 3},
]

TASKS = {
    "generic": GENERIC, "piqa": PIQA, "hellaswag": HELLASWAG, "arc_easy": ARC_EASY,
    "arc_challenge": ARC_CHALLENGE, "boolq": BOOLQ, "winogrande": WINOGRANDE,
    "openbookqa": OPENBOOKQA, "rte": RTE,
}

TEXT = """The tower is 324 metres (1,063 ft) tall, about the same height as an 81-storey building, and the tallest structure in Paris. Its base is square, measuring 125 metres (410 ft) on each side.
During its construction, the Eiffel Tower surpassed the Washington Monument to become the tallest man-made structure in the world, a title it held for 41 years until the Chrysler Building in New York City was finished in 1930.

It was the first structure to reach a height of 300 metres. Due to the addition of a broadcasting aerial at the top of the tower in 1957, it is now taller than the Chrysler Building by 5.2 metres (17 ft). Café, naïve, Zürich — übermäßig.
"""

DOCS = [
    "Robert Boulter is an English film, television and theatre actor.",
    " He had a guest @-@ starring role on the television series The Bill in 2000 .\n",
    "Du Fu ( 712 – 770 ) was a prominent Chinese poet of the Tang dynasty .",
]


# ----------------------------------------------------------------------------------------------
# Models

def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 1.5 / p.shape[-1] ** 0.5)


def vocab_size(tokenizer_dir):
    raw = RawTokenizer.from_file(os.path.join(tokenizer_dir, "tokenizer.json"))
    return raw.get_vocab_size(with_added_tokens=True)


def write_tokenizer(folder, family, bos, eos):
    src = os.path.join(TOKENIZERS, family)
    shutil.copy(os.path.join(src, "tokenizer.json"), folder)
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": bos, "eos_token": eos,
              "model_max_length": 512}
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=1)


def make_models(out):
    models = os.path.join(out, "models")
    shutil.rmtree(models, ignore_errors=True)
    os.makedirs(models)
    paths = {}

    v = vocab_size(os.path.join(TOKENIZERS, "llama2"))
    cfg = LlamaConfig(**COMMON, num_hidden_layers=4, vocab_size=v, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    randomize(model, 1)
    p = os.path.join(models, "llama")
    model.save_pretrained(p)
    write_tokenizer(p, "llama2", "<s>", "</s>")
    paths["llama"] = p

    # Pruned: drop layer 2 (what `prune --replacement none` would do), keep everything else.
    cfg3 = LlamaConfig(**COMMON, num_hidden_layers=3, vocab_size=v, bos_token_id=1, eos_token_id=2)
    pruned = AutoModelForCausalLM.from_config(cfg3, dtype=torch.float32)
    sd = model.state_dict()
    new = {}
    for k, t in sd.items():
        m = re.match(r"model\.layers\.(\d+)\.(.*)", k)
        if m:
            i = int(m.group(1))
            if i == 2:
                continue
            k = f"model.layers.{i if i < 2 else i - 1}.{m.group(2)}"
        new[k] = t
    pruned.load_state_dict(new)
    p = os.path.join(models, "llama-pruned")
    pruned.save_pretrained(p)
    write_tokenizer(p, "llama2", "<s>", "</s>")
    paths["llama-pruned"] = p

    v = vocab_size(os.path.join(TOKENIZERS, "qwen2"))
    cfg = Qwen2Config(**COMMON, num_hidden_layers=3, vocab_size=v, tie_word_embeddings=False)
    qwen = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    randomize(qwen, 2)
    p = os.path.join(models, "qwen2")
    qwen.save_pretrained(p)
    write_tokenizer(p, "qwen2", None, "<|endoftext|>")
    paths["qwen2"] = p
    for p in paths.values():
        for extra in ("generation_config.json",):
            if os.path.exists(os.path.join(p, extra)):
                os.remove(os.path.join(p, extra))
    return paths


# ----------------------------------------------------------------------------------------------
# lm-eval multiple choice

def task_spec(name, path):
    data = {"dataset_path": "json", "dataset_name": None,
            "dataset_kwargs": {"data_files": {"validation": path}},
            "validation_split": "validation", "test_split": None, "training_split": None,
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                            {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}]}
    if name == "generic":
        return dict(data, task="generic", output_type="multiple_choice",
                    doc_to_text="{{context}}", doc_to_choice="{{choices}}", doc_to_target="{{label}}")
    return dict(data, task=name)


TASK_MANAGER = None


def build_task(name, path):
    """The registered task (its YAML and Python helpers), reading the local file instead."""
    global TASK_MANAGER
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._index import TaskIndex
    if TASK_MANAGER is None:
        TASK_MANAGER = TaskManager()
    tm = TASK_MANAGER
    spec = task_spec(name, path)
    entry = TaskIndex.entry_from_config(spec) if name == "generic" else tm._entry(name)
    return tm._factory.build(entry, overrides=spec, registry=tm._index)


def check_tokenizer(lm, folder, strings):
    raw = RawTokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    for s in strings:
        a = lm.tokenizer.encode(s)
        b = raw.encode(s).ids
        assert a == b, f"transformers and tokenizers disagree on {s!r}: {a} vs {b}"


def evaluate_tasks(model_path, task_paths):
    lm = HFLM(pretrained=model_path, device="cpu", dtype="float32", batch_size=1)
    out = {}
    for name, path in task_paths.items():
        task = build_task(name, path)
        res = lm_eval.simple_evaluate(model=lm, tasks=[task], num_fewshot=0,
                                      log_samples=True, bootstrap_iters=0)
        r = res["results"][name]
        samples = sorted(res["samples"][name], key=lambda s: s["doc_id"])
        items = []
        for s in samples:
            args = [list(a) for a in s["arguments"]]
            lls = [float(x[0][0]) if isinstance(x[0], (list, tuple)) else float(x[0]) for x in s["resps"]]
            pairs = []
            for ctx, cont in args:
                if ctx == "":
                    c_enc = lm.tok_encode(cont, add_special_tokens=False)
                    pairs.append(([lm.prefix_token_id], c_enc))
                else:
                    pairs.append(lm._encode_pair(ctx, cont))
            check_tokenizer(lm, model_path, [a[0] for a in args] + [a[0] + a[1] for a in args])
            # The gold index: doc_to_text for multiple-input tasks (winogrande), else the target.
            gold = task.doc_to_text(s["doc"]) if task.multiple_input else s["target"]
            items.append({
                "doc_id": s["doc_id"], "target": int(gold), "arguments": args,
                "loglikelihoods": lls,
                "context_tokens": [list(map(int, p[0])) for p in pairs],
                "continuation_tokens": [list(map(int, p[1])) for p in pairs],
                "acc": float(s["acc"]), "acc_norm": float(s["acc_norm"]),
            })
            top = sorted(lls, reverse=True)
            if len(top) > 1 and top[0] - top[1] < 2e-3:
                print(f"warning: {name} doc {s['doc_id']} has a near tie ({top[0] - top[1]:.2e})")
        # bootstrap_iters=0 leaves stderr "N/A"; lm-eval's own mean_stderr gives what it reports.
        out[name] = {"acc": r["acc,none"], "acc_norm": r["acc_norm,none"],
                     "acc_stderr": mean_stderr([it["acc"] for it in items]),
                     "acc_norm_stderr": mean_stderr([it["acc_norm"] for it in items]),
                     "items": items}
    return lm, out


def predictions_lines(task, items):
    """streamline's predictions format, from lm-eval's per-choice log-likelihoods."""
    lines = []
    for it in items:
        lls = it["loglikelihoods"]
        pred = int(np.argmax(lls))
        label = it["target"]
        lines.append({"task": task, "index": it["doc_id"], "label": label, "prediction": pred,
                      "correct": pred == label, "loglikelihoods": lls,
                      "tokens": [len(c) for c in it["continuation_tokens"]]})
    return lines


def stability(orig, comp):
    """The paper's stability, each item weighted by its own weight, computed directly."""
    s = []
    for it in orig:
        nll = -np.array(it["loglikelihoods"], dtype=np.float64) / np.array(it["tokens"], dtype=np.float64)
        s.append(np.std(nll))
    s = np.array(s)
    w = np.exp(s - s.max())
    w /= w.sum()
    co = np.array([a["correct"] for a in orig])
    cc = np.array([b["correct"] for b in comp])
    consistent = (co == cc).astype(np.float64)
    agree = np.mean([a["prediction"] == b["prediction"] for a, b in zip(orig, comp)])
    return {"stability": float(np.sum(w * consistent)), "agreement": float(agree),
            "original_acc": float(co.mean()), "compressed_acc": float(cc.mean()),
            "consistent": float(consistent.mean()), "items": len(orig)}


# ----------------------------------------------------------------------------------------------
# Perplexity and KL

def windows(tokens, prefix, seq_len, stride):
    ctx_len = seq_len - stride + 1
    return [lm_utils.make_disjoint_window(w)
            for w in lm_utils.get_rolling_token_windows(tokens, prefix, seq_len, ctx_len)]


def window_logprobs(model, ctx, cont):
    """log-softmax rows (float64) that predict `cont`, and the tokens they predict."""
    inp = (ctx + cont)[:-1]
    with torch.no_grad():
        logits = model(torch.tensor([inp])).logits[0].double()
    lp = torch.log_softmax(logits, dim=-1)[-len(cont):]
    return lp.numpy(), np.array(cont)


def word_count(text):
    return len(re.split(r"\s+", text))


def perplexity_reference(lm, model, docs, seq_len, stride):
    nlls = []
    words = bytes_ = 0
    for d in docs:
        toks = lm.tok_encode(d)
        for ctx, cont in windows(toks, lm.prefix_token_id, seq_len, stride):
            lp, tgt = window_logprobs(model, ctx, cont)
            nlls.extend((-lp[np.arange(len(tgt)), tgt]).tolist())
        words += word_count(d)
        bytes_ += len(d.encode("utf-8"))
    nlls = np.array(nlls)
    n = len(nlls)
    mean = nlls.mean()
    se = np.sqrt((np.mean(nlls ** 2) - mean ** 2) / (n - 1))
    total = nlls.sum()
    return {"seq_len": seq_len, "stride": stride, "tokens": n, "nll": float(mean),
            "nll_stderr": float(se), "perplexity": float(np.exp(mean)),
            "perplexity_stderr": float(np.exp(mean) * se), "words": words, "bytes": bytes_,
            "word_perplexity": float(np.exp(total / words)),
            "byte_perplexity": float(np.exp(total / bytes_)),
            "bits_per_byte": float(total / bytes_ / np.log(2))}


def lm_eval_rolling(lm, docs, seq_len):
    """lm-eval's own rolling log-likelihood (the wikitext computation) with max_length=seq_len."""
    lm._max_length = seq_len
    reqs = [Instance(request_type="loglikelihood_rolling", doc={}, arguments=(d,), idx=i)
            for i, d in enumerate(docs)]
    lls = lm.loglikelihood_rolling(reqs, disable_tqdm=True)
    lm._max_length = None
    total = -sum(lls)
    words = sum(word_count(d) for d in docs)
    bytes_ = sum(len(d.encode("utf-8")) for d in docs)
    return {"loglikelihoods": [float(x) for x in lls],
            "word_perplexity": float(np.exp(total / words)),
            "byte_perplexity": float(np.exp(total / bytes_)),
            "bits_per_byte": float(total / bytes_ / np.log(2))}


def kl_reference(lm, ref_model, model, docs, seq_len, stride):
    kls, top, dps = [], [], []
    for d in docs:
        toks = lm.tok_encode(d)
        for ctx, cont in windows(toks, lm.prefix_token_id, seq_len, stride):
            lr, tgt = window_logprobs(ref_model, ctx, cont)
            lc, _ = window_logprobs(model, ctx, cont)
            pr = np.exp(lr)
            kls.extend(np.sum(pr * (lr - lc), axis=1).tolist())
            top.extend((lr.argmax(1) == lc.argmax(1)).tolist())
            idx = np.arange(len(tgt))
            dps.extend((np.exp(lc[idx, tgt]) - pr[idx, tgt]).tolist())
    kls = np.array(kls)
    return {"seq_len": seq_len, "stride": stride, "tokens": len(kls), "kl_mean": float(kls.mean()),
            "kl_median": float(np.percentile(kls, 50)), "kl_p99": float(np.percentile(kls, 99)),
            "top1_agreement": float(np.mean(top)), "delta_p_mean": float(np.mean(dps))}


# ----------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(ROOT, "Tests/Fixtures/eval"))
    args = parser.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    paths = make_models(out)

    task_dir = os.path.join(out, "tasks")
    os.makedirs(task_dir, exist_ok=True)
    task_paths = {}
    for name, items in TASKS.items():
        p = os.path.join(task_dir, f"{name}.jsonl")
        with open(p, "w") as f:
            for it in items:
                f.write(json.dumps(it, ensure_ascii=False) + "\n")
        task_paths[name] = p

    text_dir = os.path.join(out, "text")
    os.makedirs(text_dir, exist_ok=True)
    with open(os.path.join(text_dir, "article.txt"), "w") as f:
        f.write(TEXT)
    with open(os.path.join(text_dir, "docs.jsonl"), "w") as f:
        for d in DOCS:
            f.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")

    reference = {"models": {}, "stability": {}, "kl": []}
    lms = {}
    for name, path in paths.items():
        lm, tasks = evaluate_tasks(path, task_paths)
        lms[name] = lm
        model = lm.model.eval()
        ppl = []
        for seq_len, stride in [(32, 32), (32, 16), (512, 512)]:
            for label, docs in [("article.txt", [TEXT]), ("docs.jsonl", DOCS)]:
                r = perplexity_reference(lm, model, docs, seq_len, stride)
                r["file"] = label
                if stride == seq_len:
                    r["lm_eval"] = lm_eval_rolling(lm, docs, seq_len)
                    assert abs(-sum(r["lm_eval"]["loglikelihoods"]) - r["nll"] * r["tokens"]) < 1e-3
                ppl.append(r)
        reference["models"][name] = {
            "prefix_token_id": lm.prefix_token_id, "max_length": lm.max_length,
            "tasks": tasks, "perplexity": ppl}

    pred_dir = os.path.join(out, "predictions")
    os.makedirs(pred_dir, exist_ok=True)
    preds = {}
    for name in ("llama", "llama-pruned", "qwen2"):
        lines = []
        for task, r in reference["models"][name]["tasks"].items():
            lines += predictions_lines(task, r["items"])
        preds[name] = lines
        with open(os.path.join(pred_dir, f"{name}.jsonl"), "w") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
    # The pruned model flips few answers; qwen2 (another model on the same items) flips many.
    for other in ("llama-pruned", "qwen2"):
        reference["stability"][other] = {}
        for task in TASKS:
            a = [x for x in preds["llama"] if x["task"] == task]
            b = [x for x in preds[other] if x["task"] == task]
            reference["stability"][other][task] = stability(a, b)

    ref_model = lms["llama"].model.eval()
    comp_model = lms["llama-pruned"].model.eval()
    for seq_len, stride in [(32, 32), (32, 16)]:
        for label, docs in [("article.txt", [TEXT]), ("docs.jsonl", DOCS)]:
            r = kl_reference(lms["llama"], ref_model, comp_model, docs, seq_len, stride)
            r["file"] = label
            reference["kl"].append(r)

    reference["versions"] = {"lm_eval": lm_eval.__version__ if hasattr(lm_eval, "__version__") else "0.4",
                             "torch": torch.__version__}
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
