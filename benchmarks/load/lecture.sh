#!/usr/bin/env bash
# Load scenario (b): one 1,000-participant lecture (a meeting room) in which 3 speakers take
# turns and 997 listeners are silent, over SRTP, twice: listeners with Opus DTX (a silence frame
# every 400 ms, as WebRTC clients negotiating usedtx send) and without (a frame every 20 ms, as
# most SIP phones send). 32 listeners' mixes are decoded for the onset delay. Each run has a fresh
# chorusd; prints each run and the medians.
# Usage: benchmarks/load/lecture.sh [BUILD_DIR] [PARTICIPANTS] [SECONDS] [RUNS]
#   (defaults build/release, 1000, 10 s measured, 3 runs); JSON reports in $BENCH_OUT.
# Environment: LECTURE_TRANSPORT=webrtc has every participant join like a browser (ICE, DTLS-SRTP,
# one socket each to the node's shared WebRTC port); LECTURE_SILENCE=frames runs only the
# listeners without DTX; LECTURE_SYSCALLS=1 counts the server's send system calls over each whole
# run (perf tracepoints) beside the RTP packets it sent, which shows how many packets one
# sendmmsg(2) carries.
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

transport=${LECTURE_TRANSPORT:-srtp}
machine_line
: >"$out/lecture.txt"
for silence in ${LECTURE_SILENCE:-dtx frames}; do
  reports=()
  for ((run = 1; run <= runs; run++)); do
    echo "== lecture: $participants participants, 3 speakers, listeners sending $silence, run $run"
    start_bench_chorusd "lecture-$silence-$run"
    perf_pid=
    if [[ ${LECTURE_SYSCALLS:-0} == 1 ]]; then
      perf stat -x, -o "$out/lecture-$silence-$run.syscalls" -p "$CHORUSD_PID" \
        -e syscalls:sys_enter_sendmmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg \
        -e syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_recvmsg &
      perf_pid=$!
    fi
    # Warm-up beyond the jitter buffers' 10 s window: joining 1,000 participants stalls the
    # worker now and then, and what the speakers' jitter buffers saw of it must not count; the
    # measurement is of the lecture, not of its start (LECTURE_WARMUP=4s measures the start).
    loadgen_chorus "$out/lecture-$silence-$run.json" --rooms=1 --room_size="$participants" \
      --talkers=3 --sampled_per_room=32 --warmup="${LECTURE_WARMUP:-12s}" \
      --duration="${seconds}s" --seed="$run" \
      --dtx="$([[ $silence == dtx ]] && echo true || echo false)" --transport="$transport" ||
      fail "chorus-loadgen run $run"
    if [[ -n $perf_pid ]]; then
      sent=$(curl -sf "http://$HTTP_ADDR/metrics" |
        awk '$1 ~ /^chorus_rtp_packets_total\{direction="out"/ { s += $2 } END { printf "%d", s }')
      kill -INT "$perf_pid"
      wait "$perf_pid" 2>/dev/null || true
      awk -F, -v sent="$sent" '$3 ~ /sys_enter_/ { sub(/.*sys_enter_/, "", $3); calls[$3] = $1 }
        END { printf "server send calls over the run: sendmmsg %d, sendto %d, sendmsg %d; RTP packets sent %d (%.1f per call); recvmsg %d, read %d, write %d\n",
              calls["sendmmsg"], calls["sendto"], calls["sendmsg"], sent,
              sent / (calls["sendmmsg"] + calls["sendto"] + calls["sendmsg"] + 1e-9),
              calls["recvmsg"], calls["read"], calls["write"] }' \
        "$out/lecture-$silence-$run.syscalls" | tee -a "$out/lecture.txt"
    fi
    stop_server "$CHORUSD_PID"
    reports+=("$out/lecture-$silence-$run.json")
  done
  summarize "lecture 1 x $participants, 3 speakers, listeners $silence ($transport)" "${reports[@]}" |
    tee -a "$out/lecture.txt"
done
