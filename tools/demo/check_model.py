#!/usr/bin/env python3
"""Check the demo model with stock transformers: reload, perplexity, samples, task accuracy.

Reproduce (from the repository root; see tools/demo/fetch_corpus.py for the whole sequence):

    python tools/demo/check_model.py            # prints a report, writes demo/build/check.json
    python tools/demo/check_model.py --lm-eval  # also runs lm-eval itself on the four tasks

Everything here uses only AutoTokenizer / AutoModelForCausalLM on demo/model/ (no custom
code) and computes in Float32.

Perplexity: each line of demo/data/eval.txt (a chapter) is encoded as <s> text </s>, the
lines are concatenated in order and cut into non-overlapping 256-token rows (the tail that
does not fill a row is dropped); perplexity = exp(mean next-token NLL over the 255 predicted
positions of every row).

Tasks: lm-eval 0.4 semantics, re-implemented here and, with --lm-eval, also run through
lm-eval with the task YAMLs in demo/data/tasks/lm_eval/. For each choice the context and
context + continuation are encoded (BOS added by the tokenizer), the continuation's tokens
are the tail of the latter, and its summed log-likelihood is the score. acc takes the
argmax of the sums; acc_norm divides each sum by the choice's length in characters first.
"""

import argparse
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "demo" / "model"
DATA = ROOT / "demo" / "data"
BUILD = ROOT / "demo" / "build"
SEQ = 256


def hellaswag_preprocess(text):
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def requests(task, doc):
    """(list of (context, continuation), gold index, choice strings for acc_norm)."""
    if task == "next_verse":
        ctx = doc["ctx_a"] + " " + doc["ctx_b"].capitalize()
        query = hellaswag_preprocess(doc["activity_label"] + ": " + ctx)
        choices = [hellaswag_preprocess(e) for e in doc["endings"]]
        return [(query, " " + c) for c in choices], int(doc["label"]), choices
    if task == "cloze":
        query = f"Question: {doc['question']}\nAnswer:"
        choices = doc["choices"]["text"]
        gold = doc["choices"]["label"].index(doc["answerKey"])
        return [(query, " " + c) for c in choices], gold, choices
    if task == "verse_end":
        query = f"Question: {doc['goal']}\nAnswer:"
        choices = [doc["sol1"], doc["sol2"]]
        return [(query, " " + c) for c in choices], int(doc["label"]), choices
    if task == "winogrande":
        idx = doc["sentence"].index("_")
        target = doc["sentence"][idx + 1:].strip()
        contexts = [doc["sentence"][:idx] + o for o in (doc["option1"], doc["option2"])]
        return [(c, " " + target) for c in contexts], {"1": 0, "2": 1}[doc["answer"]], contexts
    raise ValueError(task)


def encode_pair(tok, context, continuation):
    n = len(context) - len(context.rstrip())
    if n:
        continuation = context[-n:] + continuation
        context = context[:-n]
    whole = tok(context + continuation)["input_ids"]
    ctx = tok(context)["input_ids"]
    return whole[:len(ctx)], whole[len(ctx):]


@torch.no_grad()
def loglikelihood(model, tok, pairs, batch=32):
    """Summed log p(continuation | context) per pair; rows right-padded, 256 tokens at most."""
    out = []
    for i in range(0, len(pairs), batch):
        encs = [encode_pair(tok, c, x) for c, x in pairs[i:i + batch]]
        seqs = [(ctx + cont)[-(SEQ + 1):][:-1] for ctx, cont in encs]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), tok.pad_token_id)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, :len(s)] = torch.tensor(s)
            mask[r, :len(s)] = 1
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.double(), -1)
        for r, ((ctx, cont), s) in enumerate(zip(encs, seqs)):
            n = len(s)
            target = torch.tensor(cont)
            out.append(logp[r, n - len(cont):n].gather(1, target[:, None]).sum().item())
    return out


def task_accuracy(model, tok, task):
    docs = [json.loads(l) for l in open(DATA / "tasks" / f"{task}.jsonl", encoding="utf-8")]
    reqs = [requests(task, doc) for doc in docs]
    flat = loglikelihood(model, tok, [p for pairs, _, _ in reqs for p in pairs])
    acc, acc_norm = [], []
    for pairs, gold, choices in reqs:
        lls = np.array(flat[:len(pairs)])
        flat = flat[len(pairs):]
        acc.append(float(np.argmax(lls) == gold))
        acc_norm.append(float(np.argmax(lls / np.array([len(c) for c in choices])) == gold))
    n = len(docs)
    mean = sum(acc) / n
    return {"items": n, "choices": len(pairs), "chance": round(1 / len(pairs), 3),
            "acc": round(mean, 4), "acc_stderr": round(math.sqrt(mean * (1 - mean) / (n - 1)), 4),
            "acc_norm": round(sum(acc_norm) / n, 4) if task != "winogrande" else None}


@torch.no_grad()
def eval_perplexity(model, tok):
    lines = [l for l in (DATA / "eval.txt").read_text(encoding="utf-8").splitlines() if l.strip()]
    stream = []
    for line in lines:
        stream += tok(line)["input_ids"] + [tok.eos_token_id]
    n = len(stream) // SEQ
    rows = torch.tensor(stream[:n * SEQ]).view(n, SEQ)
    total = 0.0
    for i in range(0, n, 16):
        x = rows[i:i + 16]
        logits = model(input_ids=x).logits.double()
        total += torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1),
            reduction="sum").item()
    count = n * (SEQ - 1)
    words = sum(len(l.split()) for l in lines)
    return {"rows": n, "tokens_scored": count, "ppl": round(math.exp(total / count), 3),
            "nll_per_token": round(total / count, 4), "eval_words": words,
            "eval_tokens": len(stream)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lm-eval", action="store_true", help="also run lm-eval itself")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    tok = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32)
    model.eval()
    report = {"parameters": sum(p.numel() for p in model.parameters())}
    ids = tok("In the beginning")["input_ids"]
    assert ids[0] == tok.bos_token_id, "the tokenizer must add BOS"
    assert tok("In", add_special_tokens=False)["input_ids"][0] != tok.bos_token_id

    report["eval"] = eval_perplexity(model, tok)
    print(f"eval perplexity {report['eval']['ppl']} over {report['eval']['tokens_scored']} "
          f"tokens", flush=True)

    torch.manual_seed(0)
    samples = []
    for prompt in ["And the LORD said unto Moses,", "Blessed are the", "In the beginning"]:
        x = tok(prompt, return_tensors="pt")
        y = model.generate(**x, max_new_tokens=48, do_sample=True, temperature=0.8, top_k=40)
        samples.append(tok.decode(y[0], skip_special_tokens=True))
        print("sample:", samples[-1], flush=True)
    y = model.generate(**tok("And God said,", return_tensors="pt"), max_new_tokens=40,
                       do_sample=False)
    samples.append(tok.decode(y[0], skip_special_tokens=True))
    print("greedy:", samples[-1], flush=True)
    report["samples"] = samples

    report["tasks"] = {}
    for task in ["next_verse", "cloze", "verse_end", "winogrande"]:
        report["tasks"][task] = task_accuracy(model, tok, task)
        print(task, report["tasks"][task], flush=True)

    if args.lm_eval:
        out = BUILD / "lm_eval"
        cmd = [sys.executable, "-m", "lm_eval", "--model", "hf",
               "--model_args", f"pretrained={MODEL},dtype=float32",
               "--include_path", str(DATA / "tasks" / "lm_eval"),
               "--tasks", "kjv_next_verse,kjv_cloze,kjv_verse_end,kjv_winogrande",
               "--batch_size", "8", "--device", "cpu", "--output_path", str(out)]
        subprocess.run(cmd, check=True, cwd=ROOT)

    BUILD.mkdir(parents=True, exist_ok=True)
    (BUILD / "check.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
