#!/usr/bin/env bash
# chorusd without --dev: TLS from certificate files and bearer tokens on the public API, judged
# with chorusctl as the client. Health checks stay open for probes; the API needs a token.
source "$(dirname "$0")/lib.sh"

cert="$E2E_WORK/server.crt" key="$E2E_WORK/server.key" tokens="$E2E_WORK/tokens"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=chorus-e2e" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$key" -out "$cert" 2>/dev/null || fail "openssl could not make a certificate"
token=$(openssl rand -hex 32)
printf '# e2e\n%s\n' "$token" >"$tokens"
printf '%s\n' "$token" >"$E2E_WORK/token"

expect_refusal "authenticate" all --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --tls_cert="$cert" --tls_key="$key"
expect_refusal "cannot read" all --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --tls_cert="$E2E_WORK/missing.crt" --tls_key="$key" --api_tokens_file="$tokens"

start_chorusd tls all --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --tls_cert="$cert" --tls_key="$key" --api_tokens_file="$tokens" \
  --media_port_min=41100 --media_port_max=41199
ctl=("$CHORUSCTL" --address="$GRPC_ADDR" --tls_ca="$cert" --timeout=5s)

[[ $("${ctl[@]}" health) == SERVING ]] || fail "health over TLS"
pass "health over TLS without a token"

status=0
"${ctl[@]}" room list 2>"$E2E_WORK/noauth.txt" || status=$?
[[ $status == 1 ]] && grep -q UNAUTHENTICATED "$E2E_WORK/noauth.txt" ||
  fail "room list without a token should be UNAUTHENTICATED: $(cat "$E2E_WORK/noauth.txt")"
pass "no token: UNAUTHENTICATED"

printf 'not-the-right-token-at-all\n' >"$E2E_WORK/bad"
status=0
"${ctl[@]}" --token_file="$E2E_WORK/bad" room list 2>"$E2E_WORK/bad.txt" || status=$?
[[ $status == 1 ]] && grep -q UNAUTHENTICATED "$E2E_WORK/bad.txt" || fail "wrong token accepted"
pass "wrong token: UNAUTHENTICATED"

[[ $("${ctl[@]}" --token_file="$E2E_WORK/token" room list) == "no rooms" ]] ||
  fail "room list with the token"
[[ $(CHORUS_TOKEN=$token "${ctl[@]}" room list) == "no rooms" ]] || fail "CHORUS_TOKEN"
pass "valid token: room list answers"

status=0
"$CHORUSCTL" --address="$GRPC_ADDR" --insecure --timeout=3s health 2>/dev/null || status=$?
[[ $status != 0 ]] || fail "a plaintext client reached the TLS server"
pass "plaintext client refused by the TLS server"

if grep -q -- "$token" "$E2E_WORK/tls.log"; then fail "the token appears in the log"; fi
pass "the token never appears in the log"

kill -TERM "$CHORUSD_PID"
wait_exit "$CHORUSD_PID" 10
[[ $EXIT_STATUS == 0 ]] || fail "exit status $EXIT_STATUS after SIGTERM"
pass "SIGTERM: exit 0"
