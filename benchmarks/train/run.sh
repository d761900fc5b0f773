#!/usr/bin/env bash
# Replacement training through the rest of the model (`--loss lm|kd`), Streamline against eager
# PyTorch on the same shape, back to back and alternating (PyTorch, Streamline, PyTorch,
# Streamline) so that a change in machine load hits both; prints each run and the ratio of the
# medians. Default: SmolLM2-135M's block 11–18 (the one prune chooses removing 7 layers), so the
# replacement runs with 11 frozen layers and the head above it, 4 × 512 tokens a step.
#   MODEL is a model folder (SmolLM2-135M-Instruct from tools/fetch_real_models.py for the
#   default block), PYTHON a Python with torch and transformers; release build first.
#   Measurements: benchmarks/train/README.md.
#   With ONEDNN_MAX_CPU_ISA=AVX2, both sides compute as an AVX2-only CPU does (oneDNN honours the
#   cap; PyTorch's own kernels and its MKL are capped alongside).
usage='usage: PYTHON=PATH benchmarks/train/run.sh MODEL [START END]  [LOSS=lm|kd] [STEPS=3] [MICRO=4] [ROUNDS=2]'
set -euo pipefail
if { [ $# -ne 1 ] && [ $# -ne 3 ]; } || [ -z "${PYTHON:-}" ]; then echo "$usage" >&2; exit 2; fi
# Absolute paths: the script runs from the repository root.
model=$(cd "$1" && pwd)
python=$PYTHON
case $python in */*) python=$(cd "$(dirname "$python")" && pwd)/$(basename "$python") ;; esac
cd "$(dirname "$0")/../.."
if [ "${ONEDNN_MAX_CPU_ISA:-}" = AVX2 ]; then
  export ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2
fi
start=${2:-11} end=${3:-19}
loss=${LOSS:-kd} steps=${STEPS:-3} micro=${MICRO:-4}
layers=$("$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['num_hidden_layers'])" "$model/config.json")
frozen=$((layers - end))
torch_command() {
  "$python" tools/bench_train_lm_torch.py "$model" --start "$start" --end "$end" --loss "$loss" \
    --steps "$steps" --micro-batch "$micro" --threads "$(nproc)" | tail -1
}
swift_command() {
  .build/release/streamline bench train --config "$model/config.json" --loss "$loss" \
    --frozen-layers "$frozen" --steps "$steps" --micro-batch "$micro" --json
}
source benchmarks/alternate.sh
alternate "$python" "${ROUNDS:-2}"
