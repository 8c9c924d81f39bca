#!/usr/bin/env bash
# The documented platform client, examples/consultation.py, kept true: it runs against a real
# chorusd over TLS with a bearer token, as a hospital platform would. Besides its own word (exit
# status 0), this judges from outside:
#  - what its ffmpeg endpoints decoded: the host hears the patient's 700 Hz tone and not its own
#    440 Hz, the patient hears the host's and not its own (chorus-tone-analyzer);
#  - the room is gone once the meeting ended (chorusctl), and chorusd's log names neither
#    pseudonym nor the token;
#  - without a token it fails with UNAUTHENTICATED;
#  - stopped with SIGTERM in the middle of the call, it exits non-zero and leaves no ffmpeg
#    process, no temporary file and no room behind.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"

EXAMPLE="$(cd "$(dirname "$0")/../.." && pwd)/examples/consultation.py"
# Debian's Python, where python3-grpcio lives (not whatever python3 comes first on PATH).
PYTHON=/usr/bin/python3
"$PYTHON" -c 'import grpc, google.protobuf' 2>/dev/null ||
  fail "python3-grpcio and python3-protobuf are missing (scripts/install-deps.sh installs them)"

cert="$E2E_WORK/server.crt" key="$E2E_WORK/server.key" tokens="$E2E_WORK/tokens"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=chorus-e2e" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$key" -out "$cert" 2>/dev/null || fail "openssl could not make a certificate"
token=$(openssl rand -hex 32)
printf '%s\n' "$token" >"$tokens"
printf '%s\n' "$token" >"$E2E_WORK/token"

start_chorusd examples all --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --tls_cert="$cert" --tls_key="$key" --api_tokens_file="$tokens" \
  --media_port_min=46000 --media_port_max=46049 --media_workers=1
ctl=("$CHORUSCTL" --address="$GRPC_ADDR" --tls_ca="$cert" --token_file="$E2E_WORK/token"
  --timeout=5s)

# The example's temporary folders go under $EXAMPLE_TMP, so that what it leaves is visible.
EXAMPLE_TMP="$E2E_WORK/tmp"
mkdir -p "$EXAMPLE_TMP" "$E2E_WORK/audio"
example=(env TMPDIR="$EXAMPLE_TMP" timeout 50 "$PYTHON" "$EXAMPLE" --server="$GRPC_ADDR"
  --tls_ca="$cert")
# leftovers PORT_PREFIX: fails if an ffmpeg endpoint of the example still runs or a temporary
# file is left (ffmpeg's command lines name the SDP files and the local ports).
leftovers() {
  local procs
  procs=$(pgrep -af -- "localrtpport=$1|$EXAMPLE_TMP" || true)
  [[ -z $procs ]] || fail "ffmpeg processes left behind: $procs"
  [[ -z $(ls -A "$EXAMPLE_TMP") ]] || fail "temporary files left behind: $(ls -A "$EXAMPLE_TMP")"
}

# ---- without a token: refused, nothing left
status=0
"${example[@]}" --room_id=example-noauth >"$E2E_WORK/noauth.txt" 2>&1 || status=$?
[[ $status == 1 ]] && grep -q UNAUTHENTICATED "$E2E_WORK/noauth.txt" ||
  fail "no token: status $status, expected 1 and UNAUTHENTICATED: $(cat "$E2E_WORK/noauth.txt")"
leftovers 4610
pass "without a token: UNAUTHENTICATED, status 1"

# ---- the whole consultation
status=0
"${example[@]}" --token_file="$E2E_WORK/token" --room_id=example-consultation --client_ports=46100 \
  --seconds=4 --keep_audio="$E2E_WORK/audio" >"$E2E_WORK/example.log" 2>&1 || status=$?
[[ $status == 0 ]] || fail "the example failed (status $status)"
grep -q "consultation done: OK" "$E2E_WORK/example.log" || fail "the example did not finish"
pass "the example booked, invited, joined, admitted, talked and closed (status 0)"

# What the endpoints decoded, judged here, not by the example.
cp "$E2E_WORK/audio/host.raw" "$E2E_WORK/host.raw"
cp "$E2E_WORK/audio/patient.raw" "$E2E_WORK/patient.raw"
analyze host 440 700
analyze patient 440 700
expect_db_above host 700 -30
expect_db_below host 440 "$(awk -v l="$(tone_db host 700)" 'BEGIN { print l - 30 }')"
expect_db_above patient 440 -30
expect_db_below patient 700 "$(awk -v l="$(tone_db patient 440)" 'BEGIN { print l - 30 }')"
# The analysis skips the first second; 4 s of talk leave well over 1.5 s after it.
awk -v s="$(report_value host seconds)" 'BEGIN { exit !(s >= 1.5) }' ||
  fail "the host decoded too little audio: $(tr '\n' ' ' <"$E2E_WORK/host.report")"
pass "the host hears the patient (700 Hz at $(tone_db host 700) dB), the patient the host" \
  "(440 Hz at $(tone_db patient 440) dB); neither hears itself"

status=0
"${ctl[@]}" room get example-consultation >"$E2E_WORK/get.txt" 2>&1 || status=$?
[[ $status == 1 ]] && grep -q NOT_FOUND "$E2E_WORK/get.txt" ||
  fail "the closed room should be gone: $(cat "$E2E_WORK/get.txt")"
[[ $("${ctl[@]}" room list) == "no rooms" ]] || fail "rooms left: $("${ctl[@]}" room list)"
pass "the meeting ended: the room is gone"

for secret in Patient-7 Clinician-1 "$token"; do
  ! grep -qF -- "$secret" "$E2E_WORK/examples.log" || fail "chorusd's log holds '$secret'"
done
! grep -qF -- "$token" "$E2E_WORK/example.log" || fail "the example printed the token"
leftovers 4610
pass "no pseudonym or token in chorusd's log; no ffmpeg process or temporary file left"

# ---- stopped in the middle of the call
# Started directly (not in a subshell), so that $! is the process SIGTERM is meant for: `env`
# becomes `timeout`, which passes the signal on to the example.
"${example[@]}" --token_file="$E2E_WORK/token" --room_id=example-interrupted \
  --client_ports=46110 --seconds=60 >"$E2E_WORK/interrupted.txt" 2>&1 &
example_pid=$!
E2E_PIDS+=("$example_pid")
for _ in $(seq 200); do
  grep -q "talking for" "$E2E_WORK/interrupted.txt" && break
  kill -0 "$example_pid" 2>/dev/null ||
    fail "the example ended early: $(cat "$E2E_WORK/interrupted.txt")"
  sleep 0.1
done
grep -q "talking for" "$E2E_WORK/interrupted.txt" ||
  fail "the example did not reach the call within 20 s: $(cat "$E2E_WORK/interrupted.txt")"
# The check of leftovers sees the running endpoints (so it would see them left behind).
[[ $(pgrep -cf -- "^ffmpeg .*localrtpport=4611") == 2 ]] ||
  fail "expected the two ffmpeg senders running"
kill -TERM "$example_pid"
wait_exit "$example_pid" 20
[[ $EXIT_STATUS != 0 && $EXIT_STATUS != 124 ]] ||
  fail "after SIGTERM the example should exit non-zero (status $EXIT_STATUS)"
grep -q "closed rooms/example-interrupted while cleaning up" "$E2E_WORK/interrupted.txt" ||
  fail "the example did not end its meeting: $(cat "$E2E_WORK/interrupted.txt")"
leftovers 4611
[[ $("${ctl[@]}" room list) == "no rooms" ]] || fail "rooms left: $("${ctl[@]}" room list)"
pass "SIGTERM mid-call: status $EXIT_STATUS, the room closed, no ffmpeg or temporary file left"
