#!/usr/bin/env bash
# Load scenario: one chorusd, one session of N real ffmpeg SRTP Opus clients (default 5) all
# talking for S seconds (default 15); prints the node's mix latency quantiles (packet in to mixed
# packet out, without the jitter buffer's deliberate hold: chorus_mix_latency_seconds), its load
# and tick durations, read from /metrics.
# Usage: benchmarks/load/mix_latency.sh [BUILD_DIR] [N] [S]
set -euo pipefail
build_dir=${1:-build/release}
count=${2:-5}
seconds=${3:-15}
export CHORUSD=$build_dir/services/chorusd/chorusd
export CHORUSCTL=$build_dir/tools/chorusctl/chorusctl
export TONE_ANALYZER=$build_dir/tests/e2e/tools/chorus-tone-analyzer
export UDP_RELAY=$build_dir/tests/e2e/tools/chorus-udp-relay
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../tests/e2e/lib.sh"
source "$here/../../tests/e2e/media_lib.sh"

start_chorusd load all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=47000 --media_port_max=47999 --media_workers=1
node CreateSession '{"session_id": "load"}' >/dev/null || fail "CreateSession"
receivers=()
for ((i = 0; i < count; i++)); do
  key=$(new_key)
  add_endpoint load "p$i" opus 111 48000 $((48000 + i * 4)) "$key"
  start_receiver "p$i" $((48000 + i * 4)) "$ANSWER_KEY" opus 111 48000 2 "$((seconds - 2))"
  receivers+=("$RECEIVER_PID")
  start_sender "s$i" $((300 + 70 * i)) "$ANSWER_PORT" $((48002 + i * 4)) "$key" "$OPUS_ENCODER" \
    "$seconds"
done
wait_all "${receivers[@]}"
metrics=$(curl -sf "http://$HTTP_ADDR/metrics")
quantile() {  # quantile NAME Q: linear interpolation within the Prometheus buckets
  awk -v name="$1" -v q="$2" '
    $0 ~ "^"name"_bucket" { match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5);
                            n++; bound[n] = (le == "+Inf" ? 1e9 : le + 0); count[n] = $2 }
    $0 ~ "^"name"_count " { total = $2 }
    END { rank = q * total; prev = 0; lowb = 0
          for (i = 1; i <= n; i++) { if (count[i] >= rank) {
              f = (count[i] > prev) ? (rank - prev) / (count[i] - prev) : 1
              printf "%.1f", (lowb + (bound[i] - lowb) * f) * 1000; exit }
            prev = count[i]; lowb = bound[i] } }' <<<"$metrics"
}
echo "participants: $count, all talking, ${seconds}s, machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "mix latency ms: p50 $(quantile chorus_mix_latency_seconds 0.5), p99 $(quantile chorus_mix_latency_seconds 0.99)"
echo "tick duration ms: p50 $(quantile chorus_tick_duration_seconds 0.5), p99 $(quantile chorus_tick_duration_seconds 0.99)"
grep -E '^chorus_node_load |^chorus_tick_overruns_total |^chorus_audio_encodes_total |^chorus_ticks_total ' <<<"$metrics"
