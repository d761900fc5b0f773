#!/bin/bash
# Score shard $SLURM_ARRAY_TASK_ID of $SHARDS on each array task; submit the merge with
#   sbatch --dependency=afterok:<array job id> --wrap "streamline analyze $MODEL --remove 8 --merge $STATS/shard-*.json"
#SBATCH --job-name=streamline-score
#SBATCH --array=0-7
#SBATCH --cpus-per-task=32
#SBATCH --mem=64G
#SBATCH --time=04:00:00
set -euo pipefail
MODEL=${MODEL:-/models/llama-2-7b}
DATA=${DATA:-/data/calibration.jsonl}
STATS=${STATS:-$PWD/stats}
SHARDS=${SLURM_ARRAY_TASK_COUNT:-8}
mkdir -p "$STATS"
streamline analyze "$MODEL" --calibration "$DATA" --samples 1024 --seq-len 2048 --seed 0 \
  --shard "$SLURM_ARRAY_TASK_ID/$SHARDS" --save-stats "$STATS/shard-$SLURM_ARRAY_TASK_ID.json"
