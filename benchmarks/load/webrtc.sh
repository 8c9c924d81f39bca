#!/usr/bin/env bash
# WebRTC participants against SDES ones: the same scenario (rooms, talk pattern, seeds, warm-up and
# window) run with participants joining over SRTP with SDES keys and with participants joining
# like browsers (an SDP offer, ICE with a consent check every 5 s, a DTLS client handshake, SRTP
# with the exported keys, one socket each to the node's shared WebRTC port), each run against a
# fresh chorusd, the two transports alternating run by run. Prints each run and, per room size and
# transport, the medians: server CPU per participant, the WebRTC / SDES ratio against the 15 %
# target, loss, onset delay, and the join time (JoinRoom answer to the first mixed packet).
# Usage: benchmarks/load/webrtc.sh [BUILD_DIR] [SIZES] [SECONDS] [RUNS]
#   (defaults build/release, "20x5 4x30" = 20 rooms of 5 and 4 rooms of 30, 10 s measured,
#   3 runs of each)
# Environment: WEBRTC_GCM=1 lets the WebRTC participants offer AEAD_AES_128_GCM first, as
# browsers do (default: AES_CM_128_HMAC_SHA1_80 only, the SDES participants' suite, so that the
# two differ by their transport alone). JOIN_INTERVAL=50ms spaces the joins (default: back to
# back, a burst of several hundred a second, which the join times then include). JSON reports go
# to $BENCH_OUT (default BUILD_DIR/bench/webrtc).
set -euo pipefail
build_dir=${1:-build/release}
sizes=${2:-20x5 4x30}
seconds=${3:-10}
runs=${4:-3}
export CHORUSD=${CHORUSD:-$build_dir/services/chorusd/chorusd}
export CHORUSCTL=${CHORUSCTL:-$build_dir/tools/chorusctl/chorusctl}
export LOADGEN=${LOADGEN:-$build_dir/tools/loadgen/chorus-loadgen}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../tests/e2e/lib.sh"
source "$here/load_lib.sh"
out=${BENCH_OUT:-$build_dir/bench/webrtc}
mkdir -p "$out"
gcm=()
[[ ${WEBRTC_GCM:-0} == 1 ]] && gcm=(--webrtc_gcm)
pacing=()
[[ -n ${JOIN_INTERVAL:-} ]] && pacing=(--join_interval="$JOIN_INTERVAL")

machine_line
summaries=()
for size in $sizes; do
  rooms=${size%x*}
  room_size=${size#*x}
  for ((run = 1; run <= runs; run++)); do
    for transport in srtp webrtc; do
      echo "== $rooms rooms x $room_size, $transport, run $run"
      start_bench_chorusd "webrtc-$size-$transport-$run"
      extra=("${pacing[@]}")
      [[ $transport == webrtc ]] && extra+=("${gcm[@]}")
      loadgen_chorus "$out/$size-$transport-$run.json" --transport="$transport" \
        --rooms="$rooms" --room_size="$room_size" --duration="${seconds}s" --seed="$run" \
        "${extra[@]}" || fail "chorus-loadgen $size $transport run $run"
      stop_server "$CHORUSD_PID"
    done
  done
  srtp_reports=("$out/$size"-srtp-*.json)
  webrtc_reports=("$out/$size"-webrtc-*.json)
  for transport in srtp webrtc; do
    reports=("$out/$size-$transport"-*.json)
    summarize "$size $transport" "${reports[@]}"
    printf '%s %s join time (median of %d runs): answer to first mixed packet p50 %s ms, p95 %s ms\n' \
      "$size" "$transport" "${#reports[@]}" "$(median join_ms.p50 "${reports[@]}")" \
      "$(median join_ms.p95 "${reports[@]}")"
  done
  printf '%s webrtc: ICE p50 %s ms, DTLS p50 %s ms, %s, consent checks answered %s of %s\n' \
    "$size" "$(median webrtc.ice_ms_p50 "${webrtc_reports[@]}")" \
    "$(median webrtc.dtls_ms_p50 "${webrtc_reports[@]}")" \
    "$(grep -o '"srtp_suite": "[^"]*"' "${webrtc_reports[0]}" | cut -d'"' -f4)" \
    "$(median webrtc.consent_checks_answered "${webrtc_reports[@]}")" \
    "$(median webrtc.consent_checks_sent "${webrtc_reports[@]}")"
  sdes_cpu=$(median cpu_ms_per_participant_s "${srtp_reports[@]}")
  webrtc_cpu=$(median cpu_ms_per_participant_s "${webrtc_reports[@]}")
  summaries+=("$(awk -v s="$sdes_cpu" -v w="$webrtc_cpu" -v size="$size" 'BEGIN {
    extra = s > 0 ? 100 * (w / s - 1) : 0
    printf "%s: CPU per participant SDES %.3f ms/s, WebRTC %.3f ms/s: WebRTC %+.1f %% (target at most +15 %%: %s)",
      size, s, w, extra, extra <= 15 ? "met" : "not met, by " sprintf("%.1f", extra - 15) " points"
  }')")
done
printf '%s\n' "${summaries[@]}" | tee "$out/webrtc.txt"
