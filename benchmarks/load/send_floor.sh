#!/usr/bin/env bash
# The floor under a lecture's sends: what this machine's kernel (and SRTP, one context per
# listener) charges any sender for one datagram to each of N listeners every 20 ms, with nothing
# of Chorus around it (chorus-send-floor). Four ways, each a median of RUNS: a socket per listener
# with sendto(2) (as SDES endpoints, each with its own port) and one socket with sendmmsg(2) (as
# the shared WebRTC port), each plain and SRTP-protected. Read benchmarks/load/lecture.sh's
# server CPU against it, in the same sitting.
# Usage: benchmarks/load/send_floor.sh [BUILD_DIR] [LISTENERS] [SECONDS] [RUNS]
#   (defaults build/release, 1000, 10 s, 3 runs); the results also in $BENCH_OUT/send_floor.txt.
set -euo pipefail
build_dir=${1:-build/release}
listeners=${2:-1000}
seconds=${3:-10}
runs=${4:-3}
floor=${SEND_FLOOR:-$build_dir/benchmarks/load/chorus-send-floor}
here=$(cd "$(dirname "$0")" && pwd)
export LOADGEN=${LOADGEN:-$build_dir/tools/loadgen/chorus-loadgen}  # load_lib.sh asks for it
source "$here/load_lib.sh"
out=${BENCH_OUT:-$build_dir/bench/load}
mkdir -p "$out"
[[ -x $floor ]] || { echo "no $floor: build it first (ninja -C $build_dir chorus-send-floor)" >&2; exit 1; }
machine_line | tee "$out/send_floor.txt"
for mode in per_socket one_socket; do
  for protect in false true; do
    cores=()
    for ((run = 1; run <= runs; run++)); do
      line=$("$floor" --listeners="$listeners" --seconds="$seconds" --mode="$mode" --protect="$protect")
      echo "$line"
      cores+=("$(sed -E 's/.*: ([0-9.]+) cores.*/\1/' <<<"$line")")
    done
    median=$(printf '%s\n' "${cores[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    echo "send floor median of $runs: $listeners listeners, $mode, SRTP $protect: $median cores" |
      tee -a "$out/send_floor.txt"
  done
done
