#!/bin/sh
# The removal curve of SmolLM2-135M-Instruct (benchmarks/curve/README.md), and two of its points
# checked with prune + eval. Calibration: 120 KJV prose and 40 Python lines interleaved (two of
# prose, then one of code: two-thirds prose by documents); held-out: the first 6 prose documents.
# Needs the release build, the model (MODEL, from tools/fetch_real_models.py) and the data (DATA,
# from tools/make_real_data.py); writes into OUT. BIN names another build of the tool.
usage='usage: MODEL=DIR DATA=DIR OUT=DIR benchmarks/curve/run.sh  [BIN=.build/release/streamline]'
set -eu
if [ $# -ne 0 ] || [ -z "${MODEL:-}" ] || [ -z "${DATA:-}" ] || [ -z "${OUT:-}" ]; then
  echo "$usage" >&2; exit 2
fi
BIN=${BIN:-.build/release/streamline}
mkdir -p "$OUT"
head -6 "$DATA/prose/heldout.jsonl" > "$OUT/heldout.jsonl"
python3 - "$DATA" "$OUT/mixed-calib.jsonl" <<'PY'
import sys
data, out = sys.argv[1], sys.argv[2]
prose = open(f"{data}/prose/calib.jsonl").read().splitlines()[:120]
code = open(f"{data}/code/calib.jsonl").read().splitlines()[:40]
lines, c = [], 0
for i, line in enumerate(prose):
    lines.append(line)
    if i % 3 == 2 and c < len(code):
        lines.append(code[c]); c += 1
open(out, "w").write("\n".join(lines) + "\n")
PY
CAL="--calibration $OUT/mixed-calib.jsonl --seq-len 256 --samples 16 --eval-samples 0"
/usr/bin/time -v "$BIN" analyze "$MODEL" $CAL --train-samples 48 --curve 10 \
  --heldout "$OUT/heldout.jsonl" --report "$OUT/report" > "$OUT/curve.txt" 2> "$OUT/curve.time"
for point in "4 none" "7 linear"; do
  set -- $point
  "$BIN" prune "$MODEL" $CAL --train-samples 48 --remove "$1" --replace "$2" \
    --output "$OUT/pruned-$2-$1" --force --json > "$OUT/prune-$2-$1.json"
  /usr/bin/time -v "$BIN" eval "$OUT/pruned-$2-$1" --perplexity "$OUT/heldout.jsonl" \
    --seq-len 256 --stride 256 --reference "$MODEL" --json > "$OUT/eval-$2-$1.json" \
    2> "$OUT/eval-$2-$1.time"
done
