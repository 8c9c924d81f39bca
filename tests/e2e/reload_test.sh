#!/usr/bin/env bash
# Reloading credentials without dropping a call (issue 18, defect 12): SIGHUP re-reads the API
# tokens file (a new token works at once, a removed one is refused, a broken file keeps the old
# tokens), so does a change of the file by itself, and a renewed TLS certificate is served without a restart (the files are watched every
# --tls_reload_interval). SIGHUP neither stops nor drains chorusd, and a WatchRoom stream opened
# before it goes on.
source "$(dirname "$0")/lib.sh"

fingerprint() { openssl x509 -noout -fingerprint -sha256 -in "$1" | cut -d= -f2; }
# served_fingerprint HOST:PORT: the SHA-256 fingerprint of the certificate the server presents.
served_fingerprint() {
  openssl s_client -connect "$1" -alpn h2 </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}

make_ca ca
make_cert first ca "IP:127.0.0.1"
make_cert renewed ca "IP:127.0.0.1"
cp "$E2E_WORK/first.crt" "$E2E_WORK/server.crt"
cp "$E2E_WORK/first.key" "$E2E_WORK/server.key"
old_token=$(openssl rand -hex 32)
new_token=$(openssl rand -hex 32)
printf '# platform\n%s\n' "$old_token" >"$E2E_WORK/tokens"
printf '%s\n' "$old_token" >"$E2E_WORK/old.token"
printf '%s\n' "$new_token" >"$E2E_WORK/new.token"

start_chorusd reload all --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --tls_cert="$E2E_WORK/server.crt" --tls_key="$E2E_WORK/server.key" \
  --api_tokens_file="$E2E_WORK/tokens" --tls_reload_interval=1s \
  --media_port_min=46380 --media_port_max=46399 --media_workers=1
ctl() { "$CHORUSCTL" --address="$GRPC_ADDR" --tls_ca="$E2E_WORK/ca.crt" --timeout=5s "$@"; }

[[ $(served_fingerprint "$GRPC_ADDR") == "$(fingerprint "$E2E_WORK/first.crt")" ]] ||
  fail "the server does not present its first certificate"
ctl --token_file="$E2E_WORK/old.token" room create meeting --room_id=ward >/dev/null ||
  fail "room create with the first token"
ctl --token_file="$E2E_WORK/old.token" watch ward >"$E2E_WORK/watch.txt" 2>&1 &
E2E_PIDS+=($!)
# The watch stream is open once the server counts it; wait for its first byte of output or 2 s.
for _ in $(seq 20); do [[ -s $E2E_WORK/watch.txt ]] && break; sleep 0.1; done
! ctl --token_file="$E2E_WORK/new.token" room list >/dev/null 2>&1 ||
  fail "the new token works before it is in the file"
pass "serving with the first certificate and the first token"

# 1. Tokens: rotate the file, SIGHUP.
printf '# platform, rotated\n%s\n' "$new_token" >"$E2E_WORK/tokens"
kill -HUP "$CHORUSD_PID"
for _ in $(seq 50); do
  grep -q '"event":"api_tokens_reloaded"' "$E2E_WORK/reload.log" && break
  sleep 0.1
done
grep -q '"event":"api_tokens_reloaded"' "$E2E_WORK/reload.log" || fail "no api_tokens_reloaded line"
kill -0 "$CHORUSD_PID" 2>/dev/null || fail "SIGHUP stopped chorusd"
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://$HTTP_ADDR/readyz") == 200 ]] ||
  fail "SIGHUP turned readiness off"
ctl --token_file="$E2E_WORK/new.token" room lock ward >/dev/null || fail "the new token is refused"
status=0
ctl --token_file="$E2E_WORK/old.token" room list >"$E2E_WORK/old.txt" 2>&1 || status=$?
[[ $status != 0 ]] && grep -qi "not valid\|unauthenticated" "$E2E_WORK/old.txt" ||
  fail "the removed token still works: $(cat "$E2E_WORK/old.txt")"
! grep -q -- "$old_token\|$new_token" "$E2E_WORK/reload.log" || fail "a token reached the log"
pass "SIGHUP: the new token works, the removed one is refused, chorusd stays ready"

# The watch stream opened before the SIGHUP goes on: it sees the lock made after it.
for _ in $(seq 50); do grep -q room_locked "$E2E_WORK/watch.txt" && break; sleep 0.1; done
grep -q room_locked "$E2E_WORK/watch.txt" || fail "the watch stream did not survive the SIGHUP"
pass "a WatchRoom stream opened before the SIGHUP goes on"

# A broken file keeps the tokens in force.
printf 'short\n' >"$E2E_WORK/tokens"
kill -HUP "$CHORUSD_PID"
for _ in $(seq 50); do
  grep -q '"event":"api_tokens_reload_failed"' "$E2E_WORK/reload.log" && break
  sleep 0.1
done
grep -q '"event":"api_tokens_reload_failed"' "$E2E_WORK/reload.log" || fail "no reload failure line"
ctl --token_file="$E2E_WORK/new.token" room get ward >/dev/null ||
  fail "a broken tokens file took the working token away"
pass "a broken tokens file is refused and the tokens in force stay"

# Without a signal (a Secret updated in place; the image has no shell to send one): the file is
# looked at every --tls_reload_interval, and the tokens it holds now are the ones in force.
printf '%s\n%s\n' "$new_token" "$old_token" >"$E2E_WORK/tokens"
for _ in $(seq 100); do
  ctl --token_file="$E2E_WORK/old.token" room get ward >/dev/null 2>&1 && break
  sleep 0.1
done
ctl --token_file="$E2E_WORK/old.token" room get ward >/dev/null ||
  fail "a tokens file changed without a signal is not read"
pass "a tokens file changed without a signal is read again within --tls_reload_interval"

# 2. Certificates: renew the files (key first, then certificate, as a renewal tool writes them).
cp "$E2E_WORK/renewed.key" "$E2E_WORK/server.key"
cp "$E2E_WORK/renewed.crt" "$E2E_WORK/server.crt"
want=$(fingerprint "$E2E_WORK/renewed.crt")
served=""
for _ in $(seq 100); do
  served=$(served_fingerprint "$GRPC_ADDR")
  [[ $served == "$want" ]] && break
  sleep 0.1
done
[[ $served == "$want" ]] || fail "the renewed certificate is not served within 10 s ($served)"
ctl --token_file="$E2E_WORK/new.token" room get ward >/dev/null || fail "API after renewal"
kill -0 "$CHORUSD_PID" 2>/dev/null || fail "chorusd stopped"
pass "the renewed certificate is served without a restart"
