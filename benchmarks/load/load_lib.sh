# Helpers of the load scenarios and of the side-by-side comparison (sourced after
# tests/e2e/lib.sh, whose cleanup stops every process started here and removes $E2E_WORK).
#
# Addresses and ports: everything stays on loopback. The scenarios put the server's media on
# 127.0.0.2 ports 46000-46999 (a 1,000-participant room needs 1,000 of them), its gRPC and HTTP
# on 127.0.0.1:49990-49992, and the simulated participants on 127.0.0.1 and 127.0.0.3 ports
# 49000-49899. The smoke test uses its own slice (media 46900-46999 and participants 49900-49949
# on 127.0.0.1, API 49998-49999), so it can run beside the others.
: "${LOADGEN:?set LOADGEN to the chorus-loadgen binary}"

BENCH_GRPC=${BENCH_GRPC:-127.0.0.1:49990}
BENCH_HTTP=${BENCH_HTTP:-127.0.0.1:49991}
BENCH_JANUS_HTTP_PORT=${BENCH_JANUS_HTTP_PORT:-49992}
BENCH_MEDIA_IP=${BENCH_MEDIA_IP:-127.0.0.2}
BENCH_MEDIA_PORTS=${BENCH_MEDIA_PORTS:-46000-46999}
BENCH_LOCAL_IPS=${BENCH_LOCAL_IPS:-127.0.0.1,127.0.0.3}
BENCH_LOCAL_PORTS=${BENCH_LOCAL_PORTS:-49000-49899}

# A server carrying 1,000 participants needs more descriptors than a login shell's default.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

machine_line() {
  echo "machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
}

# start_bench_chorusd NAME ARGS...: chorusd all --dev on the benchmark addresses (ARGS added,
# then the words of $BENCH_CHORUSD_ARGS, for comparing a setting: --drop_silence_in_kernel=false).
start_bench_chorusd() {
  local name=$1
  shift
  local extra=()
  read -r -a extra <<<"${BENCH_CHORUSD_ARGS:-}"
  start_chorusd "$name" all --dev --grpc_listen="$BENCH_GRPC" --http_listen="$BENCH_HTTP" \
    --media_address="$BENCH_MEDIA_IP" --media_port_min="${BENCH_MEDIA_PORTS%-*}" \
    --media_port_max="${BENCH_MEDIA_PORTS#*-}" "$@" "${extra[@]}"
}

# stop_server PID: SIGTERM, then wait (at most 10 s) for it to drain and exit.
stop_server() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# loadgen_chorus JSON_OUT ARGS...: chorus-loadgen against the chorusd started last, measuring it
# through /proc and /metrics; the table goes to stdout, the JSON report to JSON_OUT.
loadgen_chorus() {
  local out=$1
  shift
  "$LOADGEN" --target=chorus --insecure --address="$GRPC_ADDR" --server_pid="$CHORUSD_PID" \
    --metrics_url="http://$HTTP_ADDR/metrics" --local_ips="$BENCH_LOCAL_IPS" \
    --port_min="${BENCH_LOCAL_PORTS%-*}" --port_max="${BENCH_LOCAL_PORTS#*-}" --json="$out" "$@"
}

# loadgen_janus JSON_OUT ARGS...: the same against the janus started last (plain RTP).
loadgen_janus() {
  local out=$1
  shift
  "$LOADGEN" --target=janus --janus_url="$JANUS_URL" --transport=rtp --server_pid="$JANUS_PID" \
    --local_ips="$BENCH_LOCAL_IPS" --port_min="${BENCH_LOCAL_PORTS%-*}" \
    --port_max="${BENCH_LOCAL_PORTS#*-}" --json="$out" "$@"
}

# json_value FILE KEY: a number from a chorus-loadgen JSON report ("delay_ms.p99" reaches into
# the delay object, "join_ms.p95" into the join times, "webrtc.ice_ms_p50" into the WebRTC
# figures).
json_value() {
  local file=$1 key=$2
  if [[ $key == *.* ]]; then
    grep -o "\"${key%%.*}\": {[^}]*}" "$file" | grep -o "\"${key#*.}\": [-0-9.e+]*" |
      head -1 | awk '{ print $2 }'
  else
    grep -o "\"$key\": [-0-9.e+]*" "$file" | head -1 | awk '{ print $2 }'
  fi
}

# median KEY FILES...: the median of KEY over several JSON reports (the lower middle for an even
# count).
median() {
  local key=$1 file
  shift
  for file in "$@"; do json_value "$file" "$key"; done | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else print v[int((NR + 1) / 2)] }'
}

# expect_le VALUE LIMIT WHAT / expect_ge VALUE LIMIT WHAT
expect_le() { awk -v v="$1" -v l="$2" 'BEGIN { exit !(v <= l) }' || fail "$3: $1, expected at most $2"; }
expect_ge() { awk -v v="$1" -v l="$2" 'BEGIN { exit !(v >= l) }' || fail "$3: $1, expected at least $2"; }

# summarize LABEL FILES...: one line of medians over the runs' JSON reports.
summarize() {
  local label=$1
  shift
  printf '%s (median of %d runs): participants %s, loss %s %%, jitter %s ms, onset delay p50/p95/p99 %s/%s/%s ms, spurts heard %s/%s, server %s cores, CPU %s ms/s per participant (%s per core), RSS %s kB per participant' \
    "$label" "$#" "$(median participants "$@")" "$(median loss_percent "$@")" \
    "$(median jitter_ms_mean "$@")" "$(median delay_ms.p50 "$@")" "$(median delay_ms.p95 "$@")" \
    "$(median delay_ms.p99 "$@")" "$(median spurts_heard "$@")" "$(median spurts_expected "$@")" \
    "$(median server_cores "$@")" "$(median cpu_ms_per_participant_s "$@")" \
    "$(median participants_per_core "$@")" "$(median rss_kb_per_participant "$@")"
  if [[ -n $(json_value "$1" node_load) ]]; then
    printf ', node load %s, tick p99 %s ms, overruns %s, encodes per tick %s' \
      "$(median node_load "$@")" "$(median tick_p99_ms "$@")" "$(median tick_overruns "$@")" \
      "$(median audio_encodes_per_tick "$@")"
  fi
  printf ', machine load average %s\n' "$(median load_average "$@")"
}
