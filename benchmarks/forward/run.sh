#!/usr/bin/env bash
# A forward pass keeping every hidden state, Streamline against eager PyTorch (transformers) on
# the same shape and random weights, back to back and alternating (PyTorch, Streamline,
# PyTorch, Streamline) so a change in machine load hits both; prints each run and the ratio of
# the medians. Both sides compute at the precision asked for as this CPU runs it: say
# ONEDNN_MAX_CPU_ISA=AVX2 to measure what an AVX2-only CPU gets (oneDNN, Streamline's and the one
# inside PyTorch, honours it; PyTorch's own kernels and its MKL are capped to AVX2 alongside).
# PYTHON is a Python with torch and transformers; the release build first; the default shape is
# TinyLlama-1.1B's, CONFIG.json (any family's config.json) another. Measurements:
# benchmarks/forward/README.md.
usage='usage: PYTHON=PATH benchmarks/forward/run.sh [CONFIG.json]  [PRECISION=f32|bf16] [BATCH=4] [SEQ=512] [ROUNDS=2]'
set -euo pipefail
if [ $# -gt 1 ] || [ -z "${PYTHON:-}" ]; then echo "$usage" >&2; exit 2; fi
config=()
# Absolute: the script runs from the repository root.
[ $# -ge 1 ] && config=(--config "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")")
python=$PYTHON
case $python in */*) python=$(cd "$(dirname "$python")" && pwd)/$(basename "$python") ;; esac
cd "$(dirname "$0")/../.."
precision=${PRECISION:-f32} batch=${BATCH:-4} seq=${SEQ:-512} rounds=${ROUNDS:-2}
if [ "${ONEDNN_MAX_CPU_ISA:-}" = AVX2 ]; then
  export ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2
fi
# bf16 in Streamline is bf16 only where oneDNN runs it natively; PyTorch then gets the same.
effective=$(.build/release/streamline bench forward "${config[@]}" --batch 1 --seq-len 8 \
  --precision "$precision" --json 2>/dev/null |
  "$python" -c "import json,sys; d=json.load(sys.stdin); print(d['precision'], d['cpu_isa'])")
read -r torch_precision isa <<<"$effective"
echo "precision $precision runs as $torch_precision on $isa; batch $batch × $seq tokens" >&2
torch_command() {
  "$python" tools/bench_forward_torch.py "${config[@]}" --batch "$batch" --seq-len "$seq" \
    --precision "$torch_precision" | tail -1
}
swift_command() {
  .build/release/streamline bench forward "${config[@]}" --batch "$batch" --seq-len "$seq" \
    --precision "$precision" --json 2>/dev/null
}
source benchmarks/alternate.sh
alternate "$python" "$rounds"
