#!/bin/bash
# Split-and-merge with local processes, checked against one process: prints "identical".
#   examples/distributed/local.sh [MODEL] [SHARDS]
set -euo pipefail
BIN=${BIN:-.build/release/streamline}
MODEL=${1:-demo}
N=${2:-4}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
"$BIN" analyze "$MODEL" --remove 3 --json --save-stats "$DIR/single.json" > "$DIR/single.out"
for i in $(seq 0 $((N - 1))); do
  "$BIN" analyze "$MODEL" --shard "$i/$N" --save-stats "$DIR/shard-$i.json" > /dev/null &
done
wait
"$BIN" analyze "$MODEL" --remove 3 --json --merge "$DIR"/shard-*.json > "$DIR/merged.out"
cmp "$DIR/single.out" "$DIR/merged.out" && echo identical
