#!/usr/bin/env bash
# chorusd in development mode, judged from outside: refusals of unsafe configurations, the
# metrics and health endpoints (curl), the gRPC health service and the public API (chorusctl),
# and a SIGTERM drain that turns readiness off and ends with exit status 0.
source "$(dirname "$0")/lib.sh"

expect_refusal "TLS is required" all
expect_refusal "loopback" all --dev --grpc_listen=0.0.0.0:0 --http_listen=127.0.0.1:0
expect_refusal "loopback" media-node --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_address=0.0.0.0
expect_refusal "expected exactly one role" --dev
expect_refusal "unknown role" recorder --dev

start_chorusd dev all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=41000 --media_port_max=41099 --drain_min_wait=1s --drain_timeout=10s
pass "listening on grpc $GRPC_ADDR, http $HTTP_ADDR"

metrics=$(curl -sf "http://$HTTP_ADDR/metrics") || fail "GET /metrics"
grep -q '^chorus_build_info{.*role="all".*} 1' <<<"$metrics" || fail "no chorus_build_info: $metrics"
grep -q '^chorus_ready 1' <<<"$metrics" || fail "chorus_ready is not 1"
pass "/metrics shows chorus_build_info"
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://$HTTP_ADDR/healthz") == 200 ]] || fail "/healthz"
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://$HTTP_ADDR/readyz") == 200 ]] || fail "/readyz"
pass "/healthz and /readyz answer 200"

[[ $("$CHORUSCTL" --insecure --address="$GRPC_ADDR" health) == SERVING ]] || fail "health"
[[ $("$CHORUSCTL" --insecure --address="$GRPC_ADDR" health chorus.v1.Rooms) == SERVING ]] ||
  fail "health of chorus.v1.Rooms"
"$CHORUSCTL" --insecure --address="$GRPC_ADDR" --json health | grep -q '"status": "SERVING"' ||
  fail "health --json"
pass "gRPC health SERVING, chorusctl agrees"

[[ $("$CHORUSCTL" --insecure --address="$GRPC_ADDR" room list) == "no rooms" ]] || fail "room list"
"$CHORUSCTL" --insecure --address="$GRPC_ADDR" --json room list >/dev/null || fail "room list --json"
pass "chorusctl room list answers"

# `all` reaches its media node in-process: the internal API is not on the public listener.
status=0
"$CHORUSCTL" --insecure --address="$GRPC_ADDR" node GetLoad >"$E2E_WORK/load.txt" 2>&1 ||
  status=$?
[[ $status != 0 ]] && grep -qi "unimplemented" "$E2E_WORK/load.txt" ||
  fail "node GetLoad on the public listener of all: $(cat "$E2E_WORK/load.txt")"
status=0
"$CHORUSCTL" --insecure --address="$GRPC_ADDR" node CreateSession '{"session_id": 7' \
  2>"$E2E_WORK/ctl.txt" || status=$?
[[ $status == 2 ]] && grep -q "not valid JSON" "$E2E_WORK/ctl.txt" || fail "bad JSON request"
pass "the internal API is not served by all's public listener; a malformed request is refused"

# chorusd --help lists chorusd's own flags (it used to say "No flags matched").
"$CHORUSD" --help >"$E2E_WORK/help.txt" 2>&1 || true
for flag in --grpc_listen --media_port_min --api_tokens_file --tls_reload_interval --drain_timeout; do
  grep -q -- "$flag" "$E2E_WORK/help.txt" || fail "chorusd --help does not list $flag"
done
! grep -q "No flags matched" "$E2E_WORK/help.txt" || fail "chorusd --help: No flags matched"
pass "chorusd --help lists its flags"

# Drain: readiness goes off at once, the process ends with 0 after the minimum wait.
kill -TERM "$CHORUSD_PID"
sleep 0.3
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://$HTTP_ADDR/readyz") == 503 ]] ||
  fail "/readyz should be 503 while draining"
health=$("$CHORUSCTL" --insecure --address="$GRPC_ADDR" health || true)
[[ $health == NOT_SERVING ]] || fail "health while draining: $health"
pass "draining: /readyz 503, health NOT_SERVING"
wait_exit "$CHORUSD_PID" 10
[[ $EXIT_STATUS == 0 ]] || fail "chorusd exited with $EXIT_STATUS after SIGTERM"
grep -q '"event":"drained"' "$E2E_WORK/dev.log" || fail "no drained log line"
pass "SIGTERM: exit 0 after draining"

# No process listening: chorusctl says so and fails.
status=0
"$CHORUSCTL" --insecure --address="$GRPC_ADDR" --timeout=2s health 2>"$E2E_WORK/ctl.txt" || status=$?
[[ $status == 1 ]] && grep -q UNAVAILABLE "$E2E_WORK/ctl.txt" || fail "chorusctl without server"
pass "chorusctl reports an unreachable server"

# Every log line is JSON with a level and an event.
while IFS= read -r line; do
  [[ $line == '{"ts":"'*'","level":"'*'","event":"'*'}' ]] || fail "not a JSON log line: $line"
done <"$E2E_WORK/dev.log"
pass "logs are JSON lines"
