#!/usr/bin/env python3
"""Gathers benchmarks/compensated/run.sh's runs: per run the removed layers, wall and CPU time,
peak memory, and per domain held-out perplexity, KL to the original and the share of the lost
log-perplexity recovered against plain removal (`none`). JSON on stdout; with --markdown a
table instead.

    python3 benchmarks/compensated/collect.py OUT/MODEL-removeN [--markdown]
"""
import json
import math
import re
import sys
from pathlib import Path


def timing(err: Path) -> dict:
    text = err.read_text() if err.exists() else ""
    def grab(pattern):
        m = re.search(pattern, text)
        return m.group(1) if m else None
    wall = grab(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)")
    seconds = None
    if wall:
        parts = [float(p) for p in wall.split(":")]
        seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    user, system, peak = grab(r"User time \(seconds\): (\S+)"), grab(r"System time \(seconds\): (\S+)"), grab(r"Maximum resident set size \(kbytes\): (\d+)")
    return {
        "wall_s": seconds,
        "cpu_s": float(user) + float(system) if user and system else None,
        "peak_gb": int(peak) / 1e6 if peak else None,
    }


def main() -> None:
    folders = [a for a in sys.argv[1:] if a != "--markdown"]
    if len(folders) != 1:
        sys.exit("usage: python3 benchmarks/compensated/collect.py OUT/MODEL-removeN [--markdown]")
    out = Path(folders[0])
    runs = out / "runs"
    results = {}
    names = ["original"] + sorted(p.stem for p in runs.glob("*.json") if not p.stem.startswith("eval-"))
    for name in names:
        entry = {}
        if name != "original":
            summary = json.loads((runs / f"{name}.json").read_text())
            entry["removed_layers"] = summary["removed_layers"]
            entry["blocks"] = summary.get("blocks")
            entry.update(timing(runs / f"{name}.err"))
        for domain in ["prose", "code"]:
            path = runs / f"eval-{name}-{domain}.json"
            if not path.exists():
                continue
            result = json.loads(path.read_text())
            perplexity = result["perplexity"]["perplexity"]
            divergence = result.get("divergence") or {}
            entry[domain] = {"perplexity": perplexity, "kl": divergence.get("kl_mean")}
        results[name] = entry
    for name, entry in results.items():
        for domain in ["prose", "code"]:
            try:
                original = results["original"][domain]["perplexity"]
                plain = results["none"][domain]["perplexity"]
                value = entry[domain]["perplexity"]
                entry[domain]["recovered"] = (math.log(plain) - math.log(value)) / (math.log(plain) - math.log(original))
            except (KeyError, ZeroDivisionError):
                pass
    if "--markdown" in sys.argv:
        print("| run | layers removed | prose ppl (recovered) | prose KL | code ppl (recovered) | code KL | wall | CPU | peak |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, e in results.items():
            def cell(d):
                if d not in e:
                    return "", ""
                r = e[d].get("recovered")
                ppl = f"{e[d]['perplexity']:.2f}" + (f" ({r * 100:.0f}%)" if r is not None and name not in ("none", "original") else "")
                kl = f"{e[d]['kl']:.3f}" if e[d].get("kl") is not None else ""
                return ppl, kl
            (pp, pk), (cp, ck) = cell("prose"), cell("code")
            layers = e.get("removed_layers")
            def fmt(x, unit=""):
                return f"{x:.0f}{unit}" if x is not None else ""
            print(f"| {name} | {layers if layers else ''} | {pp} | {pk} | {cp} | {ck} | {fmt(e.get('wall_s'), ' s')} | {fmt(e.get('cpu_s'), ' s')} | {e['peak_gb']:.1f} GB |" if e.get("peak_gb") else f"| {name} | {layers or ''} | {pp} | {pk} | {cp} | {ck} | | | |")
    else:
        json.dump(results, sys.stdout, indent=1)


main()
