#!/usr/bin/env bash
# `make bench`: runs every micro benchmark in full and prints the machine it ran on, so results
# can be copied into docs/benchmarks.md with their context. Extra arguments go to each benchmark
# (for example --benchmark_filter=Mix).
set -euo pipefail
build_dir=${1:-build/release}
shift || true

echo "machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
mapfile -t benchmarks < <(find "$build_dir/benchmarks" -type f -name 'chorus_*_benchmark' -perm -u+x | sort)
if [[ ${#benchmarks[@]} -eq 0 ]]; then
  echo "no benchmarks built in $build_dir (configure with -DCHORUS_BUILD_BENCHMARKS=ON)"
  exit 1
fi
for benchmark in "${benchmarks[@]}"; do
  echo
  echo "== $(basename "$benchmark")"
  "$benchmark" --benchmark_counters_tabular=true "$@"
done
