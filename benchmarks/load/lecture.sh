#!/usr/bin/env bash
# Load scenario (b): one 1,000-participant lecture (a meeting room) in which 3 speakers take
# turns and 997 listeners send silence, over SRTP. 32 listeners' mixes are decoded for the onset
# delay. Prints each run and the medians.
# Usage: benchmarks/load/lecture.sh [BUILD_DIR] [PARTICIPANTS] [SECONDS] [RUNS]
#   (defaults build/release, 1000, 10 s measured, 3 runs); JSON reports in $BENCH_OUT.
set -euo pipefail
build_dir=${1:-build/release}
participants=${2:-1000}
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
start_bench_chorusd lecture
reports=()
for ((run = 1; run <= runs; run++)); do
  echo "== lecture: $participants participants, 3 speakers, run $run"
  loadgen_chorus "$out/lecture-$run.json" --rooms=1 --room_size="$participants" --talkers=3 \
    --sampled_per_room=32 --warmup=4s --duration="${seconds}s" --seed="$run" ||
    fail "chorus-loadgen run $run"
  reports+=("$out/lecture-$run.json")
done
stop_server "$CHORUSD_PID"
summarize "lecture 1 x $participants, 3 speakers (SRTP)" "${reports[@]}" | tee "$out/lecture.txt"
