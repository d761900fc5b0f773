#!/usr/bin/env bash
# Compensated multi-block removal and measured selection against single-block removal, plain
# removal and the training-free map (benchmarks/compensated/README.md), with one general-purpose
# calibration set: KJV prose and Python stdlib code interleaved at equal characters (DATA, made
# by tools/make_real_data.py), held-out perplexity and KL to the original on the first ~50,000
# characters of each domain's held-out file. Each run records wall time and peak resident memory
# (/usr/bin/time -v); benchmarks/compensated/collect.py gathers them into OUT/MODEL-removeN/.
# REFERENCE=0 skips the KL (and the reference's forward) where only perplexity is compared;
# BIN names another build of the tool; PYTHON any Python 3 (standard library only).
# (release build: swift build -c release --product streamline)
usage='usage: MODEL=DIR DATA=DIR benchmarks/compensated/run.sh OUT  [N=10] [HEAL=128] [RUNS="none linear linear-measured default default-blocks2 default-heal-lora ..."] [REFERENCE=0] [BIN=PATH] [PYTHON=python3]'
set -euo pipefail
if [ $# -ne 1 ] || [ -z "${MODEL:-}" ] || [ -z "${DATA:-}" ]; then echo "$usage" >&2; exit 2; fi
# Absolute paths: the script runs from the repository root.
model=$(cd "$MODEL" && pwd)
source_data=$(cd "$DATA" && pwd)
mkdir -p "$1" && root=$(cd "$1" && pwd)
cd "$(dirname "$0")/../.."
bin=${BIN:-$PWD/.build/release/streamline}
python=${PYTHON:-python3}
n=${N:-10}
heal=${HEAL:-128}
runs=${RUNS:-"none linear linear-measured default default-blocks2"}
out=$root/$(basename "$model")-remove$n
mkdir -p "$out/runs"
data=$out/data
mkdir -p "$data"
"$python" - "$data" "$source_data" <<'PY'
import json, sys
out, source = sys.argv[1], sys.argv[2]
prose = open(f"{source}/prose/calib.jsonl").readlines()
code, chars = [], 0
target = sum(len(json.loads(l)["text"]) for l in prose)
for line in open(f"{source}/code/calib.jsonl"):
    if chars > target: break
    code.append(line); chars += len(json.loads(line)["text"])
mixed, i, j = [], 0, 0
while i < len(prose) or j < len(code):  # keep the running shares of documents even
    if j >= len(code) or (i < len(prose) and i * len(code) <= j * len(prose)):
        mixed.append(prose[i]); i += 1
    else:
        mixed.append(code[j]); j += 1
open(f"{out}/mixed-calib.jsonl", "w").writelines(mixed)
for d in ["prose", "code"]:
    docs, n = [], 0
    for line in open(f"{source}/{d}/heldout.jsonl"):
        docs.append(line); n += len(json.loads(line)["text"])
        if n > 50000: break
    open(f"{out}/{d}-held-small.jsonl", "w").writelines(docs)
PY
calibration=$data/mixed-calib.jsonl
prune() {  # prune NAME ARGS...
  local name=$1; shift
  [ -f "$out/runs/$name.json" ] && return
  /usr/bin/time -v "$bin" prune "$model" --output "$out/runs/$name" --force --json \
    --calibration "$calibration" --eval-samples 0 "$@" \
    > "$out/runs/$name.json.part" 2> "$out/runs/$name.err"
  mv "$out/runs/$name.json.part" "$out/runs/$name.json"
}
evaluate() {  # evaluate NAME MODEL DOMAIN
  [ -f "$out/runs/eval-$1-$3.json" ] && return
  local reference=(--reference "$model")
  [ "${REFERENCE:-1}" = 0 ] && reference=()
  /usr/bin/time -v "$bin" eval "$2" --perplexity "$data/$3-held-small.jsonl" --seq-len 512 \
    "${reference[@]}" --json > "$out/runs/eval-$1-$3.json.part" 2> "$out/runs/eval-$1-$3.err"
  mv "$out/runs/eval-$1-$3.json.part" "$out/runs/eval-$1-$3.json"
}
for domain in prose code; do evaluate original "$model" "$domain"; done
for run in $runs; do
  case $run in
    none) prune none --remove "$n" --replace none ;;
    none-measured) prune none-measured --remove "$n" --replace none --select measured ;;
    linear) prune linear --remove "$n" --replace linear ;;
    linear-measured) prune linear-measured --remove "$n" --replace linear --select measured ;;
    linear-blocks2) prune linear-blocks2 --remove "$n" --replace linear --blocks 2 ;;
    default) prune default --remove "$n" ;;
    default-measured) prune default-measured --remove "$n" --select measured ;;
    default-blocks2) prune default-blocks2 --remove "$n" --blocks 2 ;;
    default-blocks2-64) prune default-blocks2-64 --remove "$n" --blocks 2 --train-samples 64 ;;
    default-blocks2-measured-64)
      prune default-blocks2-measured-64 --remove "$n" --blocks 2 --select measured --train-samples 64 ;;
    default-blocks2-measured)
      prune default-blocks2-measured --remove "$n" --blocks 2 --select measured ;;
    default-train2x) prune default-train2x --remove "$n" --train-samples 128 ;;
    default-blocks3) prune default-blocks3 --remove "$n" --blocks 3 ;;
    # Healing (issue 28), every recipe at the same token budget: HEAL sequences (default 128)
    # after the replacement's 128, or twice HEAL where nothing else trains.
    default-heal-lora) prune default-heal-lora --remove "$n" --heal lora --heal-samples "$heal" ;;
    default-heal-all) prune default-heal-all --remove "$n" --heal all --heal-samples "$heal" ;;
    default-heal-last) prune default-heal-last --remove "$n" --heal last --heal-samples "$heal" ;;
    none-heal-lora)
      prune none-heal-lora --remove "$n" --replace none --heal lora --heal-samples $((2 * heal)) ;;
    none-heal-all)
      prune none-heal-all --remove "$n" --replace none --heal all --heal-samples $((2 * heal)) ;;
    reverse-heal-last)  # "Reassessing Layer Pruning": the last n layers, then the last 3 and the head
      prune reverse-heal-last --layers "last:$n" --replace none --heal last --heal-layers 3 \
        --heal-samples $((2 * heal)) ;;
    *) echo "unknown run $run" >&2; exit 2 ;;
  esac
  for domain in prose code; do evaluate "$run" "$out/runs/$run" "$domain"; done
  rm -rf "$out/runs/$run"/*.safetensors
done
"$python" benchmarks/compensated/collect.py "$out" > "$out/results.json"
echo "results: $out/results.json"
