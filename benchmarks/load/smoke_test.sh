#!/usr/bin/env bash
# Smoke pass of the load benchmarks (`make test`, label e2e): chorus-loadgen drives a real
# chorusd through the public API for a few seconds, over SRTP, plain RTP and WebRTC (browser-like
# participants: SDP offer, ICE, DTLS-SRTP), and must see
# every participant hear the mix, the talk spurts of others arrive, views arrive in a short video
# room, and the server measured
# (/proc and /metrics). When Debian's janus is installed, a short plain-RTP run against its
# AudioBridge checks the comparison's driver too (skipped otherwise). Refused flags must end
# with a usage error, an unreachable server with a clean failure. No timing is judged here:
# figures belong to the benchmarks (docs/benchmarks.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../tests/e2e/lib.sh"
: "${LOADGEN:?set LOADGEN to the chorus-loadgen binary}"
# Its own slice of the benchmark ports, so it may run beside the scenarios.
BENCH_GRPC=127.0.0.1:49998 BENCH_HTTP=127.0.0.1:49999 BENCH_MEDIA_IP=127.0.0.1
BENCH_MEDIA_PORTS=46900-46949 BENCH_LOCAL_IPS=127.0.0.1 BENCH_LOCAL_PORTS=49900-49949
source "$here/load_lib.sh"
source "$here/../compare/janus_lib.sh"

# Bad input: usage errors, no crash.
for bad in --rooms=0 --room_size=1 --transport=dtls --target=nobody --duration=0s \
  --port_min=50000 "--local_ips=" "--target=janus --transport=srtp" \
  "--target=janus --transport=webrtc" "--transport=webrtc --video=640x360" extra-argument; do
  status=0
  # shellcheck disable=SC2086
  "$LOADGEN" $bad >/dev/null 2>&1 || status=$?
  [[ $status -eq 2 ]] || fail "chorus-loadgen $bad: exit status $status, expected 2 (usage)"
done
status=0
timeout 30 "$LOADGEN" --insecure --address=127.0.0.1:49997 --rooms=1 --room_size=2 \
  --port_min=49900 --port_max=49949 --duration=1s >/dev/null 2>"$E2E_WORK/unreachable.txt" ||
  status=$?
[[ $status -eq 1 ]] || fail "chorus-loadgen against nothing: exit status $status, expected 1"
pass "bad flags are usage errors; an unreachable server fails cleanly"

start_bench_chorusd smoke --media_workers=1 --allow_insecure_media

# check REPORT MIN_HEARD_SHARE: everyone heard the mix, nothing failed, spurts were heard.
check() {
  local report=$1 share=$2
  [[ -s $report ]] || fail "no JSON report $report"
  expect_le "$(json_value "$report" participants_silent)" 0 "participants hearing nothing"
  expect_le "$(json_value "$report" srtp_failures)" 0 "SRTP failures"
  expect_le "$(json_value "$report" malformed)" 0 "malformed packets"
  expect_le "$(json_value "$report" loss_percent)" 2 "loss %"
  expect_ge "$(json_value "$report" packets_received)" 1 "packets received"
  expect_ge "$(json_value "$report" delay_ms.samples)" 1 "onset delays measured"
  local heard expected
  heard=$(json_value "$report" spurts_heard)
  expected=$(json_value "$report" spurts_expected)
  expect_ge "$heard" "$(awk -v e="$expected" -v s="$share" 'BEGIN { print int(e * s) }')" \
    "talk spurts heard (of $expected)"
  expect_ge "$(json_value "$report" server_cpu_seconds)" 0.001 "server CPU measured"
}

loadgen_chorus "$E2E_WORK/srtp.json" --rooms=3 --room_size=5 --warmup=2s --duration=5s \
  >"$E2E_WORK/srtp.txt" || fail "chorus-loadgen over SRTP: $(cat "$E2E_WORK/srtp.txt")"
check "$E2E_WORK/srtp.json" 0.8
expect_ge "$(json_value "$E2E_WORK/srtp.json" ticks)" 1 "ticks seen in /metrics"
grep -q "onset delay" "$E2E_WORK/srtp.txt" || fail "no table printed"
pass "SRTP: 3 rooms x 5: $(grep -E '^(loss|onset delay)' "$E2E_WORK/srtp.txt" | tr -s ' ' | tr '\n' ';')"

loadgen_chorus "$E2E_WORK/rtp.json" --transport=rtp --rooms=1 --room_size=3 --warmup=1s \
  --duration=4s --talk_min_ms=800 --talk_max_ms=1000 >"$E2E_WORK/rtp.txt" ||
  fail "chorus-loadgen over plain RTP: $(cat "$E2E_WORK/rtp.txt")"
check "$E2E_WORK/rtp.json" 0.5
pass "plain RTP: 1 room x 3"

loadgen_chorus "$E2E_WORK/webrtc.json" --transport=webrtc --rooms=2 --room_size=3 --warmup=2s \
  --duration=6s >"$E2E_WORK/webrtc.txt" ||
  fail "chorus-loadgen over WebRTC: $(cat "$E2E_WORK/webrtc.txt")"
check "$E2E_WORK/webrtc.json" 0.5
expect_ge "$(json_value "$E2E_WORK/webrtc.json" join_ms.samples)" 6 "join times measured"
expect_ge "$(json_value "$E2E_WORK/webrtc.json" webrtc.consent_checks_answered)" 1 \
  "consent checks answered"
pass "WebRTC: 2 rooms x 3 (SDP offer, ICE, DTLS-SRTP), join p50 $(json_value \
  "$E2E_WORK/webrtc.json" join_ms.p50) ms"

loadgen_chorus "$E2E_WORK/video.json" --rooms=1 --room_size=2 --video=640x360 --video_kbps=400 \
  --warmup=2s --duration=3s >"$E2E_WORK/video.txt" ||
  fail "chorus-loadgen with video: $(cat "$E2E_WORK/video.txt")"
check "$E2E_WORK/video.json" 0
fps=$(grep -o '"frames_per_s": [0-9.]*' "$E2E_WORK/video.json" | awk '{ print $2 }')
expect_ge "${fps:-0}" 5 "view frames per second"
pass "video: 1 room x 2 at 360p, $fps view frames per second"
stop_server "$CHORUSD_PID"

if janus_require 2>/dev/null; then
  start_janus 49997 46950 46999
  loadgen_janus "$E2E_WORK/janus.json" --rooms=1 --room_size=3 --warmup=1s --duration=4s \
    --talk_min_ms=800 --talk_max_ms=1000 >"$E2E_WORK/janus.txt" ||
    fail "chorus-loadgen against janus: $(cat "$E2E_WORK/janus.txt")"
  check "$E2E_WORK/janus.json" 0.5
  stop_server "$JANUS_PID"
  pass "janus audiobridge: 1 room x 3 over plain RTP"
else
  echo "skip: janus is not installed (the comparison's driver is not exercised)"
fi
