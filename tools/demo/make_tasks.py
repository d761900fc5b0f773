#!/usr/bin/env python3
"""Build small multiple-choice tasks, in lm-eval's native layouts, from held-out verses.

Reproduce (from the repository root; see tools/demo/fetch_corpus.py for the whole sequence):

    python tools/demo/fetch_corpus.py
    python tools/demo/train_tokenizer.py
    python tools/demo/train_model.py
    python tools/demo/make_tasks.py        # -> demo/data/tasks/*.jsonl (needs demo/model/)

Every item comes from the task-source split (demo/build/tasks_source.jsonl: 5% of the
chapters, seen neither by the tokenizer nor by the model). Word statistics for plausible
distractors come from the train split (demo/build/train.txt). Whole-verse distractors are
matched to the true ending by the demo model's log-likelihood without the context (see
Prior). Each task has its own seeded random.Random, so with the shipped model the files are
byte-for-byte reproducible. Within a task a verse is the target of at most one item.

Tasks (one JSON object per line):

  next_verse.jsonl  hellaswag layout: ctx_a (the two verses before the target), ctx_b (the
                    target's first word, which capitalize() leaves unchanged), ctx, endings
                    (4: the rest of the target verse and the rest of three verses from other
                    chapters that start with the same word, are of similar length, and
                    score nearest the true rest after just the first word),
                    label ("0".."3", a string like hellaswag's), activity_label (the book).
                    lm-eval's hellaswag: query = activity_label + ": " + ctx_a + " " +
                    ctx_b.capitalize(), choices = endings.
  cloze.jsonl       ARC layout: question (the verse before, then the target verse up to a
                    removed content word), choices {text: 4 words, label: A-D}, answerKey.
                    Distractors are words that follow the same preceding word in the train
                    split at least 3 times, nearest the answer in train frequency.
                    lm-eval's arc_easy: "Question: {question}\nAnswer:",
                    choices are the words.
  verse_end.jsonl   PIQA layout: goal (a verse up to its first ':' or ';' in the middle),
                    sol1/sol2 (the true rest, and the rest of another verse cut the same way,
                    of similar length and nearest in score after "Question: \nAnswer:"),
                    label (0/1, an int like piqa's).
                    lm-eval's piqa: "Question: {goal}\nAnswer:", choices [sol1, sol2].
  winogrande.jsonl  WinoGrande layout: sentence with one word replaced by "_" (followed by at
                    least 4 words), option1/option2 (the word and a distractor that follows
                    the same preceding word in the train split), answer ("1"/"2").
                    lm-eval's winogrande scores the text after "_" given each filled prefix.
"""

import collections
import json
import math
import random
import re
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "demo" / "build"
MODEL = ROOT / "demo" / "model"
OUT = ROOT / "demo" / "data" / "tasks"

SEED = 1611
ITEMS = {"next_verse": 350, "cloze": 400, "verse_end": 400, "winogrande": 400}


class Prior:
    """Summed log-likelihood of " " + text after a fixed prefix, under the demo model (Float32).

    Whole-sentence endings differ far more in how predictable they are on their own than in
    how well they follow the context, so distractors drawn at random bury the context's signal
    (a model of this size scores near chance). Matching each distractor's score without the
    context to the true ending's makes the context decide, as HellaSwag's model-based
    distractor filtering does.
    """

    def __init__(self):
        torch.set_num_threads(2)
        self.tok = AutoTokenizer.from_pretrained(MODEL)
        self.model = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32).eval()

    @torch.no_grad()
    def __call__(self, pairs, batch=32):
        """pairs: [(prefix, text)] -> [log p(" " + text | <s> prefix)]."""
        out = []
        for i in range(0, len(pairs), batch):
            chunk = pairs[i:i + batch]
            seqs, lens = [], []
            for prefix, text in chunk:
                ctx = self.tok(prefix)["input_ids"]
                whole = self.tok(prefix + " " + text)["input_ids"]
                seqs.append(whole[-257:])
                lens.append(len(whole) - len(ctx))
            width = max(len(s) for s in seqs) - 1
            ids = torch.full((len(seqs), width), self.tok.pad_token_id)
            mask = torch.zeros((len(seqs), width), dtype=torch.long)
            for r, s in enumerate(seqs):
                ids[r, :len(s) - 1] = torch.tensor(s[:-1])
                mask[r, :len(s) - 1] = 1
            logp = torch.log_softmax(
                self.model(input_ids=ids, attention_mask=mask).logits.double(), dim=-1)
            for r, (s, n) in enumerate(zip(seqs, lens)):
                m = len(s) - 1
                target = torch.tensor(s[m - n + 1:])
                out.append(logp[r, m - n:m].gather(1, target[:, None]).sum().item())
        return out

STOP = set("""a an the and or but nor for so yet of to in into on upon at by with from unto
out up down over under about above after before against among through throughout
is was were be been being am are art hast hath have had has shall shalt will wilt
would should could may might must do did doth dost done not no yea nay
he him his she her hers it its they them their theirs we us our ours ye you your yours
thou thee thy thine i me my mine this that these those which who whom whose what when
where there here then than thus also even all any every each some such as if because
o oh lo behold said saith say""".split())

WORD = re.compile(r"^[A-Za-z]+$")


def load_source():
    verses = [json.loads(l) for l in open(BUILD / "tasks_source.jsonl", encoding="utf-8")]
    chapters = collections.defaultdict(list)
    for v in verses:
        chapters[(v["book_index"], v["chapter"])].append(v)
    for key in chapters:
        chapters[key].sort(key=lambda v: v["verse"])
    return verses, chapters


def cite(v):
    return f"{v['book']} {v['chapter']}:{v['verse']}"


def train_follow_sets():
    """For each word (exact spelling), how often each bare word follows it in train."""
    follow = collections.defaultdict(collections.Counter)
    freq = collections.Counter()
    for line in open(BUILD / "train.txt", encoding="utf-8"):
        words = line.split()
        for a, b in zip(words, words[1:]):
            if WORD.match(a) and WORD.match(b):
                follow[a][b] += 1
        for w in words:
            freq[w] += 1
    return follow, freq


def matched(pool, length, score, k):
    """k pool entries (length, text, prior) of length within 25% (widening if too few),
    whose prior is nearest `score`; ties keep pool order."""
    for tol in (0.25, 0.4, 0.6, 1.0, 10.0):
        near = [p for p in pool if abs(p[0] - length) <= tol * length]
        if len(near) >= k:
            return sorted(near, key=lambda p: abs(p[2] - score))[:k]
    return None


def next_verse(verses, chapters, prior):
    rng = random.Random(SEED * 10 + 1)
    split = [v["text"].partition(" ") for v in verses]
    scores = prior([(first, rest) for first, _, rest in split])
    by_first = collections.defaultdict(list)  # first word -> [(len(rest), key, rest, prior)]
    for v, (first, _, rest), score in zip(verses, split, scores):
        by_first[first].append((len(rest), (v["book_index"], v["chapter"]), rest, score))
    score_of = {(v["book_index"], v["chapter"], v["verse"]): s for v, s in zip(verses, scores)}
    candidates = []
    for key, vs in chapters.items():
        for i in range(2, len(vs)):
            first, _, rest = vs[i]["text"].partition(" ")
            if first.capitalize() != first or not WORD.match(first) or len(rest.split()) < 4:
                continue
            candidates.append((key, i))
    rng.shuffle(candidates)
    items = []
    for key, i in candidates:
        vs = chapters[key]
        target = vs[i]
        first, _, rest = target["text"].partition(" ")
        pool = [(n, r, sc) for n, k, r, sc in by_first[first] if k != key and r != rest]
        pool = list({r: (n, r, sc) for n, r, sc in pool}.values())
        score = score_of[(key[0], key[1], target["verse"])]
        picked = matched(pool, len(rest), score, 3)
        if picked is None:
            continue
        endings = [rest] + [r for _, r, _ in picked]
        rng.shuffle(endings)
        ctx_a = vs[i - 2]["text"] + " " + vs[i - 1]["text"]
        items.append({
            "ind": len(items),
            "activity_label": target["book"],
            "ctx_a": ctx_a,
            "ctx_b": first,
            "ctx": ctx_a + " " + first,
            "endings": endings,
            "source_id": cite(target),
            "split": "val",
            "split_type": "indomain",
            "label": str(endings.index(rest)),
        })
        if len(items) == ITEMS["next_verse"]:
            break
    return items


def blank_positions(words, min_before, min_after, freq, follow):
    """Indices of content words with a bare-word predecessor and enough words around."""
    out = []
    for j in range(min_before, len(words) - min_after):
        w, prev = words[j], words[j - 1]
        if not WORD.match(w) or not WORD.match(prev) or w.lower() in STOP or len(w) < 4:
            continue
        if freq[w] < 3:
            continue
        out.append(j)
    return out


def distractor_words(prev, answer, follow, freq, rng, k, by_frequency=False):
    """k words that follow `prev` in train (>= 3 times), same capitalisation as `answer`:
    drawn at random, or (by_frequency) the k whose train frequency is nearest the answer's,
    so that a model cannot win by preferring common words."""
    cands = sorted(w for w, c in follow[prev].items()
                   if c >= 3 and w != answer and w.lower() != answer.lower()
                   and w.lower() not in STOP and len(w) >= 3
                   and w[0].isupper() == answer[0].isupper()
                   and w.isupper() == answer.isupper())
    if len(cands) < k:
        return None
    if by_frequency:
        return sorted(cands, key=lambda w: abs(math.log(freq[w] / freq[answer])))[:k]
    return rng.sample(cands, k)


def cloze(verses, chapters, follow, freq):
    rng = random.Random(SEED * 10 + 2)
    candidates = []
    for key, vs in chapters.items():
        for i in range(1, len(vs)):
            candidates.append((key, i))
    rng.shuffle(candidates)
    items = []
    for key, i in candidates:
        vs = chapters[key]
        words = vs[i]["text"].split(" ")
        positions = [j for j in blank_positions(words, 3, 0, freq, follow)
                     if distractor_words(words[j - 1], words[j], follow, freq,
                                         random.Random(0), 3)]
        if not positions:
            continue
        j = rng.choice(positions)
        answer = words[j]
        distractors = distractor_words(words[j - 1], answer, follow, freq, rng, 3,
                                       by_frequency=True)
        texts = [answer] + distractors
        rng.shuffle(texts)
        labels = ["A", "B", "C", "D"]
        items.append({
            "id": f"kjv-cloze-{len(items)}",
            "question": vs[i - 1]["text"] + " " + " ".join(words[:j]),
            "choices": {"text": texts, "label": labels},
            "answerKey": labels[texts.index(answer)],
            "source_id": cite(vs[i]),
        })
        if len(items) == ITEMS["cloze"]:
            break
    return items


def split_half(text):
    """Cut at the first ':' or ';' that leaves at least 4 words on each side."""
    for m in re.finditer(r"[:;] ", text):
        goal, rest = text[:m.start() + 1], text[m.end():]
        if len(goal.split()) >= 4 and len(rest.split()) >= 4:
            return goal, rest
    return None


def verse_end(verses, chapters, prior):
    rng = random.Random(SEED * 10 + 3)
    halves = []
    for v in verses:
        cut = split_half(v["text"])
        if cut:
            halves.append((v, cut[0], cut[1]))
    scores = prior([("Question: \nAnswer:", rest) for _, _, rest in halves])
    order = list(range(len(halves)))
    rng.shuffle(order)
    items = []
    for n in order:
        v, goal, rest = halves[n]
        key = (v["book_index"], v["chapter"])
        pool = [(len(r), r, sc) for (w, g, r), sc in zip(halves, scores)
                if (w["book_index"], w["chapter"]) != key and r != rest]
        picked = matched(pool, len(rest), scores[n], 1)
        if picked is None:
            continue
        label = rng.randrange(2)
        sols = [picked[0][1], picked[0][1]]
        sols[label] = rest
        items.append({"goal": goal, "sol1": sols[0], "sol2": sols[1], "label": label,
                      "source_id": cite(v)})
        if len(items) == ITEMS["verse_end"]:
            break
    return items


def winogrande(verses, chapters, follow, freq):
    rng = random.Random(SEED * 10 + 4)
    order = list(range(len(verses)))
    rng.shuffle(order)
    items = []
    for n in order:
        v = verses[n]
        words = v["text"].split(" ")
        positions = [j for j in blank_positions(words, 2, 4, freq, follow)
                     if distractor_words(words[j - 1], words[j], follow, freq,
                                         random.Random(0), 1)]
        if not positions:
            continue
        j = rng.choice(positions)
        answer = words[j]
        other = distractor_words(words[j - 1], answer, follow, freq, rng, 1)[0]
        sentence = " ".join(words[:j] + ["_"] + words[j + 1:])
        if sentence.count("_") != 1:
            continue
        first = rng.randrange(2)
        options = [other, other]
        options[first] = answer
        items.append({"sentence": sentence, "option1": options[0], "option2": options[1],
                      "answer": str(first + 1), "source_id": cite(v)})
        if len(items) == ITEMS["winogrande"]:
            break
    return items


def main():
    verses, chapters = load_source()
    follow, freq = train_follow_sets()
    prior = Prior()
    OUT.mkdir(parents=True, exist_ok=True)
    tasks = {
        "next_verse": next_verse(verses, chapters, prior),
        "cloze": cloze(verses, chapters, follow, freq),
        "verse_end": verse_end(verses, chapters, prior),
        "winogrande": winogrande(verses, chapters, follow, freq),
    }
    for name, items in tasks.items():
        path = OUT / f"{name}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for item in items:
                f.write(json.dumps(item, ensure_ascii=False) + "\n")
        print(f"{name}: {len(items)} items, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
