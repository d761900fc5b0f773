#!/usr/bin/env bash
# The measurements behind prune's training defaults (benchmarks/defaults/README.md), on
# SmolLM2-135M (30 layers) removing 7 layers, calibration and held-out text of two domains
# (KJV prose, Python stdlib code; DATA, made by tools/make_real_data.py, see its manifest.json).
# Each run records wall time and peak resident memory (/usr/bin/time -v);
# benchmarks/defaults/collect.py gathers them into OUT/results.json. PYTHON: any Python 3
# (standard library only). (release build: swift build -c release --product streamline)
usage='usage: MODEL=DIR DATA=DIR benchmarks/defaults/run.sh OUT  [PYTHON=python3]'
set -euo pipefail
if [ $# -ne 1 ] || [ -z "${MODEL:-}" ] || [ -z "${DATA:-}" ]; then echo "$usage" >&2; exit 2; fi
# Absolute paths: the script runs from the repository root.
model=$(cd "$MODEL" && pwd)
data=$(cd "$DATA" && pwd)
mkdir -p "$1" && out=$(cd "$1" && pwd)
cd "$(dirname "$0")/../.."
bin=$PWD/.build/release/streamline
python=${PYTHON:-python3}
mkdir -p "$out/runs"
# Held-out subsets (the first ~50,000 characters of each domain's held-out file).
"$python" - "$out" "$data" <<'PY'
import json, sys
for d in ["prose", "code"]:
    docs, n = [], 0
    for line in open(f"{sys.argv[2]}/{d}/heldout.jsonl"):
        docs.append(line); n += len(json.loads(line)["text"])
        if n > 50000: break
    open(f"{sys.argv[1]}/{d}-held-small.jsonl", "w").writelines(docs)
PY
prune() {  # prune NAME ARGS...
  local name=$1; shift
  /usr/bin/time -v "$bin" prune "$model" --output "$out/runs/$name" --force --json "$@" \
    > "$out/runs/$name.json" 2> "$out/runs/$name.err"
}
perplexity() {  # perplexity NAME MODEL DOMAIN
  /usr/bin/time -v "$bin" eval "$2" --perplexity "$out/$3-held-small.jsonl" --seq-len 512 --json \
    > "$out/runs/eval-$1-$3.json" 2> "$out/runs/eval-$1-$3.err"
}
for domain in prose code; do
  calibration=$data/$domain/calib.jsonl
  perplexity original "$model" "$domain"
  prune "$domain-none" --calibration "$calibration" --remove 7 --replace none
  prune "$domain-linear" --calibration "$calibration" --remove 7 --replace linear
  prune "$domain-default" --calibration "$calibration" --remove 7   # the defaults: kd, init auto, micro-batch 1
  # The alternatives behind the defaults, on the block the default run chose.
  layers=$("$python" -c "import json,sys; d=json.load(open(sys.argv[1])); r=d['removed_layers']; print(f'{r[0]-1}-{r[-1]}')" "$out/runs/$domain-default.json")
  prune "$domain-mse-first" --calibration "$calibration" --layers "$layers" --loss mse --init first
  prune "$domain-mse-linear" --calibration "$calibration" --layers "$layers" --loss mse --init linear
  prune "$domain-lm-auto" --calibration "$calibration" --layers "$layers" --loss lm
  prune "$domain-micro-batch-4" --calibration "$calibration" --remove 7 --micro-batch 4
  prune "$domain-heal" --calibration "$calibration" --remove 7 --heal-neighbors
  for kind in none linear default mse-first mse-linear lm-auto micro-batch-4 heal; do
    perplexity "$kind" "$out/runs/$domain-$kind" "$domain"
  done
done
"$python" benchmarks/defaults/collect.py "$out/runs" > "$out/results.json"
echo "results: $out/results.json"
