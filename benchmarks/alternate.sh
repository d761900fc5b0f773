# Sourced by the benchmarks: runs `torch_command` and `swift_command` (functions the benchmark
# defines, each printing one JSON object with tokens_per_second, and nothing else) alternately,
# ROUNDS times, so a change in machine load hits both, then prints the ratio of the medians.
alternate() {
  local python=$1 rounds=$2 torch_runs=() swift_runs=() round t s
  local speed="import json,sys; print(json.loads(sys.argv[1])['tokens_per_second'])"
  for round in $(seq "$rounds"); do
    t=$(torch_command)
    torch_runs+=("$("$python" -c "$speed" "$t")")
    s=$(swift_command)
    swift_runs+=("$("$python" -c "$speed" "$s")")
    echo "round $round: PyTorch ${torch_runs[-1]} tokens/s, Streamline ${swift_runs[-1]} tokens/s"
  done
  "$python" - "${torch_runs[@]}" "${swift_runs[@]}" <<'PY'
import statistics, sys
values = [float(v) for v in sys.argv[1:]]
torch, swift = values[: len(values) // 2], values[len(values) // 2 :]
print(f"median: PyTorch {statistics.median(torch):.1f} tokens/s, Streamline "
      f"{statistics.median(swift):.1f} tokens/s, ratio {statistics.median(swift) / statistics.median(torch):.2f}")
PY
}
