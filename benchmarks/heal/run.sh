#!/usr/bin/env bash
# Healing's training step, Streamline against eager PyTorch on the same shape, back to back and
# alternating (PyTorch, Streamline, PyTorch, Streamline) so that a change in machine load hits
# both; prints each run and the ratio of the medians. Every one of LAYERS decoder layers trains
# by distillation through the head (`prune --heal`): HEAL=lora (rank-8 adapters; PyTorch runs
# them unmerged, as PEFT does) or all (the layers whole). Default: SmolLM2-135M with 7 of its 30
# layers removed, one sequence of 512 tokens a step, as `prune --heal` runs by default.
#   MODEL is a model folder (its config.json gives the shape), PYTHON a Python with torch and
#   transformers; release build first (swift build -c release --product streamline).
#   With ONEDNN_MAX_CPU_ISA=AVX2, both sides compute as an AVX2-only CPU does.
usage='usage: PYTHON=PATH benchmarks/heal/run.sh MODEL  [LAYERS=23] [HEAL=lora|all] [STEPS=3] [MICRO=1] [ROUNDS=2]'
set -euo pipefail
if [ $# -ne 1 ] || [ -z "${PYTHON:-}" ]; then echo "$usage" >&2; exit 2; fi
# Absolute paths: the script runs from the repository root.
model=$(cd "$1" && pwd)
python=$PYTHON
case $python in */*) python=$(cd "$(dirname "$python")" && pwd)/$(basename "$python") ;; esac
cd "$(dirname "$0")/../.."
if [ "${ONEDNN_MAX_CPU_ISA:-}" = AVX2 ]; then
  export ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2
fi
layers=${LAYERS:-23} heal=${HEAL:-lora} steps=${STEPS:-3} micro=${MICRO:-1}
torch_command() {
  "$python" tools/bench_heal_torch.py "$model" --layers "$layers" --heal "$heal" \
    --steps "$steps" --micro-batch "$micro" --threads "$(nproc)" | tail -1
}
swift_command() {
  .build/release/streamline bench train --config "$model/config.json" --heal "$heal" \
    --frozen-layers $((layers - 1)) --steps "$steps" --micro-batch "$micro" --json
}
source benchmarks/alternate.sh
alternate "$python" "${ROUNDS:-2}"
