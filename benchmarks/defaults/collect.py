#!/usr/bin/env python3
"""Collects RUNS/*.json|.err (prune summaries, eval results of benchmarks/defaults/run.sh) into one JSON.

    python3 benchmarks/defaults/collect.py RUNS > results.json
"""
import glob, json, os, re, sys
if len(sys.argv) != 2:
    sys.exit("usage: python3 benchmarks/defaults/collect.py RUNS")
out = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.json"))):
    name = os.path.basename(path)[:-5]
    try:
        data = json.load(open(path))
    except Exception:
        continue
    err = open(path[:-5] + ".err").read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", err)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    user = re.search(r"User time \(seconds\): (\S+)", err)
    entry = {"wall": wall and wall.group(1), "peak_rss_mb": rss and int(rss.group(1)) // 1024,
             "user_s": user and float(user.group(1))}
    if "training" in data and data["training"]:
        t = data["training"]
        entry.update(initial=t["initial_validation"], best=t["best_validation"],
                     tokens_per_second=t["tokens_per_second"], init=t.get("initialization"))
    if "removed_layers" in data:
        entry["removed"] = data["removed_layers"]
    if "perplexity" in data:
        entry["perplexity"] = data["perplexity"]
    out[name] = entry
print(json.dumps(out, indent=1))
