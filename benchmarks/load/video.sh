#!/usr/bin/env bash
# Load scenario (c): 3-party consultations with 720p video (ROOM_SIZE=2: two-party ones, where
# each participant sees the other alone and is forwarded its frames). Every participant sends VP8 camera
# video at 25 frames per second (a pre-encoded moving pattern at 1.5 Mbit/s, a keyframe every
# 2 s) beside its audio, over SRTP, and receives a 1280x720 view. Each run has a fresh chorusd;
# prints each run and the medians, with the views' frame rate and the video frame periods the
# node missed.
# Usage: [ROOM_SIZE=2] benchmarks/load/video.sh [BUILD_DIR] [ROOMS] [SECONDS] [RUNS]
#   (defaults build/release, 2 rooms of 3, 10 s measured, 3 runs); JSON reports in $BENCH_OUT.
set -euo pipefail
build_dir=${1:-build/release}
rooms=${2:-2}
seconds=${3:-10}
runs=${4:-3}
room_size=${ROOM_SIZE:-3}
export CHORUSD=${CHORUSD:-$build_dir/services/chorusd/chorusd}
export CHORUSCTL=${CHORUSCTL:-$build_dir/tools/chorusctl/chorusctl}
export LOADGEN=${LOADGEN:-$build_dir/tools/loadgen/chorus-loadgen}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../tests/e2e/lib.sh"
source "$here/load_lib.sh"
out=${BENCH_OUT:-$build_dir/bench/load}
mkdir -p "$out"

# video_value FILE KEY: a number from the report's "video" object.
video_value() {
  grep -o '"video": {[^}]*}' "$1" | grep -o "\"$2\": [-0-9.e+]*" | head -1 | awk '{ print $2 }'
}

machine_line
reports=()
for ((run = 1; run <= runs; run++)); do
  echo "== video: $rooms rooms x $room_size at 720p, run $run"
  start_bench_chorusd "video-$run"
  loadgen_chorus "$out/video-$run.json" --rooms="$rooms" --room_size="$room_size" --video=1280x720 \
    --warmup=4s --duration="${seconds}s" --seed="$run" || fail "chorus-loadgen run $run"
  stop_server "$CHORUSD_PID"
  reports+=("$out/video-$run.json")
done
{
  summarize "video $rooms x $room_size at 720p (SRTP)" "${reports[@]}"
  for file in "${reports[@]}"; do
    printf '  %s: view fps %s, %s kbit/s per participant, video loss %s %%, frame periods missed %s of %s, view frames encoded %s\n' \
      "$(basename "$file")" "$(video_value "$file" frames_per_s)" "$(video_value "$file" kbps)" \
      "$(video_value "$file" loss_percent)" "$(video_value "$file" tick_overruns)" \
      "$(video_value "$file" ticks)" "$(video_value "$file" frames_encoded)"
  done
} | tee "$out/video.txt"
