#!/usr/bin/env bash
# The browser signalling of the web listener (docs/web.md), driven over raw WebSockets as browsers
# and attackers would (tools/web_signalling_check.py): the page and its headers, the invitation
# link, waiting room and admission, a refusal code per reason, a host's scope, malformed and
# hostile frames, guessed tokens rate limited, a flood of sockets from one address while other
# rooms go on, a closed socket leaving the room. Then no token, name or client address may appear
# in the server's log or metrics.
source "$(dirname "$0")/lib.sh"
TOOLS="$(cd "$(dirname "$0")/tools" && pwd)"

cat >"$E2E_WORK/ice.json" <<'JSON'
{"ice_servers": [{"urls": ["turn:turn.hospital.example:3478?transport=udp"],
                  "username": "chorus", "credential": "turn-secret-1"},
                 {"urls": ["turns:turn.hospital.example:443?transport=tcp"],
                  "shared_secret": "north-turn-secret"}]}
JSON
start_chorusd web all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --web_listen=127.0.0.1:0 --web_behind_proxy --ice_servers_file="$E2E_WORK/ice.json" \
  --web_allowed_origins=https://portal.hospital.example --media_port_min=47000 --media_port_max=47049 \
  --webrtc_port=47050 --media_workers=1 --video_workers=1
WEB_ADDR=$(grep -m1 '"event":"listening"' "$E2E_WORK/web.log" | sed -E 's/.*"web":"([^"]+)".*/\1/')
[[ -n $WEB_ADDR ]] || fail "no web address in the listening line"

timeout 120 /usr/bin/python3 "$TOOLS/web_signalling_check.py" --web="$WEB_ADDR" \
  --ctl="$CHORUSCTL --insecure --address=$GRPC_ADDR" --secrets="$E2E_WORK/secrets" ||
  fail "the signalling checks failed"

metrics=$(curl -sf "http://$HTTP_ADDR/metrics") || fail "no metrics"
grep -q 'chorus_web_connections_total{result="refused_limit"} [1-9]' <<<"$metrics" ||
  fail "the refused connections are not counted"
grep -q 'chorus_web_joins_total{result="rate_limited"} [1-9]' <<<"$metrics" ||
  fail "the rate-limited joins are not counted"
pass "refused sockets and rate-limited joins are counted"

echo "north-turn-secret" >>"$E2E_WORK/secrets"
while IFS= read -r secret; do
  [[ -z $secret ]] && continue
  if grep -qF -- "$secret" "$E2E_WORK/web.log" "$E2E_WORK/web.out" <<<"$metrics"; then
    fail "a token, name or client address reached the log or the metrics"
  fi
  grep -qF -- "$secret" <<<"$metrics" && fail "a token, name or client address is in the metrics"
done <"$E2E_WORK/secrets"
# The pseudonyms the controller gave (GuestNN) neither; and there is no access line at all.
grep -qE 'Guest[0-9]' "$E2E_WORK/web.log" "$E2E_WORK/web.out" <<<"$metrics" &&
  fail "a given pseudonym reached the log or the metrics"
grep -qE '"(GET|HEAD|POST) |HTTP/1' "$E2E_WORK/web.log" "$E2E_WORK/web.out" &&
  fail "the log has an HTTP access line"
pass "no token, pseudonym (given or generated) or client address in the log or the metrics; no access lines"

# The platform's origin may load the client's files (CORS) and frame the page; no other origin.
# The page may connect to its own signalling socket only.
headers=$(curl -sf -D - -o /dev/null -H 'Origin: https://portal.hospital.example' \
  "http://$WEB_ADDR/chorus.js") || fail "GET /chorus.js"
grep -qi '^access-control-allow-origin: https://portal.hospital.example' <<<"$headers" ||
  fail "no CORS for the platform's origin: $headers"
grep -qi "frame-ancestors 'self' https://portal.hospital.example;" <<<"$headers" ||
  fail "the platform's origin may not frame the page: $headers"
grep -qi "connect-src 'self' ws://$WEB_ADDR;" <<<"$headers" ||
  fail "connect-src is not the page's own socket: $headers"
headers=$(curl -sf -D - -o /dev/null -H 'Origin: https://elsewhere.example' \
  "http://$WEB_ADDR/chorus.js") || fail "GET /chorus.js"
grep -qi '^access-control-allow-origin' <<<"$headers" && fail "CORS for a foreign origin"
pass "CORS and framing for the platform's origin only; connections to the page's own socket only"

# A TURN server with fixed credentials and a shared secret both is refused at start, without
# the secret in the message.
echo '{"ice_servers": [{"urls": ["turn:t.example"], "username": "u", "shared_secret": "zz9q"}]}' \
  >"$E2E_WORK/bad-ice.json"
expect_refusal "ice server 1: either username and credential, or shared_secret" all --dev \
  --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 --web_listen=127.0.0.1:0 \
  --ice_servers_file="$E2E_WORK/bad-ice.json"
grep -q zz9q "$E2E_WORK/refusal.txt" && fail "the refusal quotes the TURN secret"

# The web listener serves TLS only, except in --dev on loopback (plain HTTP elsewhere is refused
# at start); here with its own certificate (a hospital's PKI facing the browsers).
make_ca webca
make_cert web webca "IP:127.0.0.1"
head -c 32 /dev/urandom | base64 | tr -d '=+/' >"$E2E_WORK/tokens"
if "$CHORUSD" all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --web_listen=0.0.0.0:0 --media_port_min=47060 --media_port_max=47069 >"$E2E_WORK/plain.out" 2>&1; then
  fail "a plain web listener on a public address started"
fi
grep -q -- "--web_listen serves patients' browsers over TLS only" "$E2E_WORK/plain.out" ||
  fail "no clear refusal of a plain web listener: $(head -c 300 "$E2E_WORK/plain.out")"
pass "plain HTTP for browsers is refused at start beyond loopback development"
start_chorusd webtls all --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --web_listen=127.0.0.1:0 --web_tls_cert="$E2E_WORK/web.crt" --web_tls_key="$E2E_WORK/web.key" \
  --public_url=https://video.hospital.example --tls_cert="$E2E_WORK/web.crt" \
  --tls_key="$E2E_WORK/web.key" --api_tokens_file="$E2E_WORK/tokens" \
  --media_port_min=47070 --media_port_max=47089 --webrtc_port=47090 --media_workers=1 \
  --video_workers=1 --tls_reload_interval=1s
WEB_TLS=$(grep -m1 '"event":"listening"' "$E2E_WORK/webtls.log" | sed -E 's/.*"web":"([^"]+)".*/\1/')
headers=$(curl -sf --cacert "$E2E_WORK/webca.crt" -D - -o /dev/null "https://$WEB_TLS/join") ||
  fail "the page is not served over TLS"
grep -qi '^strict-transport-security: max-age=' <<<"$headers" || fail "no HSTS over TLS"
curl -s -o /dev/null "http://$WEB_TLS/join" --max-time 5 && fail "plain HTTP answered on the TLS port"
tctl() {
  "$CHORUSCTL" --address="$GRPC_ADDR" --tls_ca="$E2E_WORK/webca.crt" \
    --token_file="$E2E_WORK/tokens" "$@"
}
tctl room create meeting --room_id=ward >/dev/null || fail "room create over TLS"
link=$(tctl invite create ward guest | sed -E 's/.* link=([^ ]+) .*/\1/')
[[ $link == https://video.hospital.example/join#r=ward\&i=* ]] || fail "link: $link"
/usr/bin/python3 -c '
import sys
sys.path.insert(0, sys.argv[1])
from ws_client import WebSocket
host, port = sys.argv[2].split(":")
ws = WebSocket(host, int(port), tls_ca=sys.argv[3], origin="https://" + sys.argv[2])
assert ws.recv()["type"] == "hello"
ws.send({"type": "join", "room": "ward", "invite": "B" * 43, "sdp": "v=0"})
message = ws.recv()
assert message["code"] == "invite_invalid", message
' "$TOOLS" "$WEB_TLS" "$E2E_WORK/webca.crt" || fail "signalling over WSS"
pass "TLS web listener with its own certificate and HSTS, signalling over WSS; links carry --public_url"

# A flood of bare TCP connections to the TLS port from one address (none ever says hello): it
# gets at most 40 of them (twice its 20 sockets: the page's file loads beside them); the rest
# are closed at once (the held ones only when their 10 s for a handshake run out). After, the
# page is served.
/usr/bin/python3 - "$WEB_TLS" "$E2E_WORK/webca.crt" <<'PY' || fail "TLS connection flood"
import socket, ssl, sys, time, urllib.request
host, port = sys.argv[1].split(":")
start = time.monotonic()
flood = [socket.create_connection((host, int(port)), timeout=5) for _ in range(70)]
for s in flood:
    s.setblocking(False)
closed = set()
while len(closed) < 30 and time.monotonic() < start + 8:
    for s in flood:
        if s in closed:
            continue
        try:
            if s.recv(1) == b"":
                closed.add(s)
        except BlockingIOError:
            pass
        except ConnectionError:
            closed.add(s)
    time.sleep(0.05)
assert len(closed) == 30, len(closed)
print(f"{70 - len(closed)} of 70 bare connections held, {len(closed)} closed at once")
for s in flood:
    s.close()
context = ssl.create_default_context(cafile=sys.argv[2])
for _ in range(50):  # the flood's slots free as the server sees them closed
    try:
        urllib.request.urlopen(f"https://{sys.argv[1]}/join", context=context, timeout=5).read()
        break
    except OSError:
        time.sleep(0.1)
else:
    raise SystemExit("the page is not served after the flood")
PY
pass "a TCP flood on the TLS port from one address: at most 40 held, the rest closed at once"

# A renewed certificate: SIGHUP reads the files again; new connections get it.
served_cn() {
  openssl s_client -connect "$WEB_TLS" -CAfile "$E2E_WORK/webca.crt" </dev/null 2>/dev/null |
    openssl x509 -noout -subject 2>/dev/null | sed -E 's/.*CN ?= ?//'
}
[[ $(served_cn) == web ]] || fail "the first certificate is not served: $(served_cn)"
make_cert renewed webca "IP:127.0.0.1"
cp "$E2E_WORK/renewed.crt" "$E2E_WORK/web.crt"
cp "$E2E_WORK/renewed.key" "$E2E_WORK/web.key"
kill -HUP "$CHORUSD_PID"
for _ in $(seq 100); do
  grep -q '"event":"web_tls_reloaded"' "$E2E_WORK/webtls.log" && break
  sleep 0.1
done
grep -q '"event":"web_tls_reloaded"' "$E2E_WORK/webtls.log" || fail "no web_tls_reloaded line"
[[ $(served_cn) == renewed ]] || fail "the renewed certificate is not served: $(served_cn)"
curl -sf --cacert "$E2E_WORK/webca.crt" -o /dev/null "https://$WEB_TLS/join" ||
  fail "the page after the renewal"
pass "SIGHUP: the renewed certificate is served to new connections"

# Renewed again, without a signal (a Secret updated in place): the files are looked at every
# --tls_reload_interval, and the new certificate is served.
make_cert again webca "IP:127.0.0.1"
cp "$E2E_WORK/again.key" "$E2E_WORK/web.key.new"
cp "$E2E_WORK/again.crt" "$E2E_WORK/web.crt.new"
mv "$E2E_WORK/web.key.new" "$E2E_WORK/web.key"
mv "$E2E_WORK/web.crt.new" "$E2E_WORK/web.crt"
for _ in $(seq 100); do
  [[ $(served_cn) == again ]] && break
  sleep 0.2
done
[[ $(served_cn) == again ]] || fail "the certificate renewed without a signal is not served"
pass "renewed files are served without a signal (watched every --tls_reload_interval)"
