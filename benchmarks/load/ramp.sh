#!/usr/bin/env bash
# Load scenario (d): the capacity of one core. chorusd runs one media worker
# (--media_workers=1); 5-party SRTP consultations are added step by step (each step a fresh
# chorus-loadgen run of STEP_SECONDS) until a step shows tick overruns (more than 0.2 % of ticks)
# or more than 1 % loss. The capacity is the last clean step.
# Usage: benchmarks/load/ramp.sh [BUILD_DIR] [STEP_SECONDS] ["ROOMS ROOMS ..."]
#   (defaults build/release, 8 s, "5 10 15 20 25 30 35 40 50 60 80 100"); JSON in $BENCH_OUT.
set -euo pipefail
build_dir=${1:-build/release}
seconds=${2:-8}
steps=${3:-"5 10 15 20 25 30 35 40 50 60 80 100"}
export CHORUSD=${CHORUSD:-$build_dir/services/chorusd/chorusd}
export CHORUSCTL=${CHORUSCTL:-$build_dir/tools/chorusctl/chorusctl}
export LOADGEN=${LOADGEN:-$build_dir/tools/loadgen/chorus-loadgen}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../tests/e2e/lib.sh"
source "$here/load_lib.sh"
out=${BENCH_OUT:-$build_dir/bench/load}
mkdir -p "$out"

machine_line
start_bench_chorusd ramp --media_workers=1
capacity=0
printf '%-6s %-12s %-9s %-9s %-10s %-12s %-10s %s\n' rooms participants load "tick p99" overruns "loss %" "delay p99" "CPU ms/s per participant"
for rooms in $steps; do
  report="$out/ramp-$rooms.json"
  loadgen_chorus "$report" --rooms="$rooms" --room_size=5 --warmup=2s --duration="${seconds}s" \
    --sampled_per_room=1 >/dev/null || fail "chorus-loadgen at $rooms rooms"
  overruns=$(json_value "$report" tick_overruns)
  ticks=$(json_value "$report" ticks)
  loss=$(json_value "$report" loss_percent)
  printf '%-6s %-12s %-9s %-9s %-10s %-12s %-10s %s\n' "$rooms" "$((rooms * 5))" \
    "$(json_value "$report" node_load)" "$(json_value "$report" tick_p99_ms)" "$overruns/$ticks" \
    "$loss" "$(json_value "$report" delay_ms.p99)" "$(json_value "$report" cpu_ms_per_participant_s)"
  if awk -v o="$overruns" -v t="$ticks" -v l="$loss" 'BEGIN { exit !(o > 0.002 * t || l > 1) }'; then
    break
  fi
  capacity=$((rooms * 5))
done
stop_server "$CHORUSD_PID"
echo "capacity of one media worker: $capacity participants in 5-party rooms without overruns" |
  tee "$out/ramp.txt"
