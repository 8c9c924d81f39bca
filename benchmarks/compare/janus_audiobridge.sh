#!/usr/bin/env bash
# Side by side with Janus AudioBridge: the same simulated participants (plain RTP, pre-encoded
# Opus, RFC 6464 levels, the same turn-taking talk pattern and seed) against Janus's AudioBridge
# and against Chorus, one server at a time on the same machine, in one run. For each
# configuration and run, each server is started fresh, measured by chorus-loadgen (CPU time from
# /proc, loss, onset-to-mix delay from decoded mixes) and stopped. Prints the medians, the CPU
# ratio, and fails when either server does not deliver the mix (loss above 1 % or fewer than
# 90 % of talk spurts heard by the sampled listeners).
#
# Janus: Debian's `janus` package (apt-get install --no-install-recommends janus). It is not a
# dependency of Chorus's build or tests, so scripts/install-deps.sh leaves it out; this script
# checks for it and says how to install it. Its AudioBridge runs with the plugin's defaults
# (48 kHz mixing, 6 packets of pre-buffering) except allow_rtp_participants.
#
# Usage: benchmarks/compare/janus_audiobridge.sh [BUILD_DIR] [SECONDS] [RUNS] ["ROOMSxSIZE ..."]
#   (defaults build/release, 10 s measured, 3 runs, "20x5 4x30"); JSON in $BENCH_OUT
#   (default BUILD_DIR/bench/compare).
set -euo pipefail
build_dir=${1:-build/release}
seconds=${2:-10}
runs=${3:-3}
configs=${4:-"20x5 4x30"}
export CHORUSD=${CHORUSD:-$build_dir/services/chorusd/chorusd}
export CHORUSCTL=${CHORUSCTL:-$build_dir/tools/chorusctl/chorusctl}
export LOADGEN=${LOADGEN:-$build_dir/tools/loadgen/chorus-loadgen}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../tests/e2e/lib.sh"
source "$here/../load/load_lib.sh"
source "$here/janus_lib.sh"
janus_require || exit 1
out=${BENCH_OUT:-$build_dir/bench/compare}
mkdir -p "$out"

machine_line
echo "janus: $(janus --version 2>/dev/null | head -1)"
failed=0
summary=()
for config in $configs; do
  rooms=${config%x*}
  size=${config#*x}
  chorus_reports=()
  janus_reports=()
  for ((run = 1; run <= runs; run++)); do
    common=(--rooms="$rooms" --room_size="$size" --warmup=3s --duration="${seconds}s"
            --seed="$run" --sampled_per_room=2)
    echo "== $config run $run: chorus (plain RTP)"
    start_bench_chorusd "chorus-$config-$run" --allow_insecure_media
    loadgen_chorus "$out/chorus-$config-$run.json" --transport=rtp "${common[@]}" >/dev/null ||
      fail "chorus-loadgen against chorus ($config, run $run)"
    stop_server "$CHORUSD_PID"
    chorus_reports+=("$out/chorus-$config-$run.json")
    echo "== $config run $run: janus audiobridge (plain RTP)"
    start_janus "$BENCH_JANUS_HTTP_PORT" "${BENCH_MEDIA_PORTS%-*}" "${BENCH_MEDIA_PORTS#*-}" \
      "$BENCH_MEDIA_IP"
    loadgen_janus "$out/janus-$config-$run.json" "${common[@]}" >/dev/null ||
      fail "chorus-loadgen against janus ($config, run $run)"
    stop_server "$JANUS_PID"
    janus_reports+=("$out/janus-$config-$run.json")
  done
  for server in chorus janus; do
    if [[ $server == chorus ]]; then files=("${chorus_reports[@]}"); else files=("${janus_reports[@]}"); fi
    summarize "$server $config" "${files[@]}"
    loss=$(median loss_percent "${files[@]}")
    heard=$(median spurts_heard "${files[@]}")
    expected=$(median spurts_expected "${files[@]}")
    if ! awk -v l="$loss" -v h="$heard" -v e="$expected" 'BEGIN { exit !(l <= 1 && h >= 0.9 * e) }'; then
      echo "CHECK FAILED: $server $config does not deliver the mix (loss $loss %, heard $heard of $expected spurts)"
      failed=1
    fi
  done
  chorus_cpu=$(median cpu_ms_per_participant_s "${chorus_reports[@]}")
  janus_cpu=$(median cpu_ms_per_participant_s "${janus_reports[@]}")
  summary+=("$(awk -v c="$chorus_cpu" -v j="$janus_cpu" -v cfg="$config" \
    -v cd="$(median delay_ms.p50 "${chorus_reports[@]}")/$(median delay_ms.p99 "${chorus_reports[@]}")" \
    -v jd="$(median delay_ms.p50 "${janus_reports[@]}")/$(median delay_ms.p99 "${janus_reports[@]}")" \
    'BEGIN { printf "%-8s chorus %.3f ms/s (%.0f per core), janus %.3f ms/s (%.0f per core): Chorus carries %.2fx the participants per core; onset delay p50/p99 chorus %s ms, janus %s ms", cfg, c, (c > 0 ? 1000 / c : 0), j, (j > 0 ? 1000 / j : 0), (c > 0 ? j / c : 0), cd, jd }')")
done
echo
echo "CPU per participant (median of $runs runs, $seconds s each):"
printf '%s\n' "${summary[@]}" | tee "$out/janus_audiobridge.txt"
exit "$failed"
