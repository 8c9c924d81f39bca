#!/usr/bin/env bash
# Load scenario (a): many 5-party consultations over SRTP, everyone sending (pre-encoded Opus,
# silence while not talking), speakers taking turns. Runs chorus-loadgen RUNS times, each
# against a fresh chorusd (so memory and CPU are those of one run), and prints each run and the
# medians.
# Usage: benchmarks/load/consultations.sh [BUILD_DIR] [ROOMS] [SECONDS] [RUNS]
#   (defaults build/release, 40 rooms = 200 participants, 10 s measured, 3 runs); ROOM_SIZE=2
#   for two-party consultations (default 5).
# JSON reports go to $BENCH_OUT (default BUILD_DIR/bench/load).
set -euo pipefail
build_dir=${1:-build/release}
rooms=${2:-40}
seconds=${3:-10}
runs=${4:-3}
export CHORUSD=${CHORUSD:-$build_dir/services/chorusd/chorusd}
export CHORUSCTL=${CHORUSCTL:-$build_dir/tools/chorusctl/chorusctl}
export LOADGEN=${LOADGEN:-$build_dir/tools/loadgen/chorus-loadgen}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../tests/e2e/lib.sh"
source "$here/load_lib.sh"
out=${BENCH_OUT:-$build_dir/bench/load}
mkdir -p "$out"

machine_line
reports=()
for ((run = 1; run <= runs; run++)); do
  echo "== consultations: $rooms rooms x ${ROOM_SIZE:-5}, run $run"
  start_bench_chorusd "consultations-$run"
  loadgen_chorus "$out/consultations-$run.json" --rooms="$rooms" --room_size="${ROOM_SIZE:-5}" \
    --duration="${seconds}s" --seed="$run" || fail "chorus-loadgen run $run"
  stop_server "$CHORUSD_PID"
  reports+=("$out/consultations-$run.json")
done
summarize "consultations $rooms x ${ROOM_SIZE:-5} (SRTP)" "${reports[@]}" | tee "$out/consultations.txt"
