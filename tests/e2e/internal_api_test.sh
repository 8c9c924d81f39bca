#!/usr/bin/env bash
# No hidden listener through the internal API (issue 18, defect 1), tried exactly as an outside
# check did, on every role: a caller with the platform's API token (and a client certificate)
# asks chorusd for an endpoint in a live room's media session, admitted and muted, to hear the
# mix. `chorusd all` must not serve the internal API on its public listener at all (it reaches
# its own media node in-process); a separate media node serves only the controller's certificate
# (mtls_test.sh covers its refusals). A UDP socket at the endpoint address the attacker names
# must receive nothing while two participants talk.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"

make_ca platform-ca
make_cert server platform-ca "IP:127.0.0.1"
make_cert platform platform-ca "IP:127.0.0.1"
token=$(openssl rand -hex 32)
printf '%s\n' "$token" >"$E2E_WORK/tokens"
printf '%s\n' "$token" >"$E2E_WORK/token"

# The eavesdropper's socket: counts datagrams for as long as it runs.
python3 - "$E2E_WORK/eavesdropper.count" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 46290))
s.settimeout(0.2)
count = 0
end = time.time() + 60
while time.time() < end:
    try:
        s.recv(2048)
        count += 1
    except socket.timeout:
        pass
    with open(sys.argv[1], "w") as f:
        f.write(str(count))
PY
E2E_PIDS+=($!)

# try_hidden_listener LABEL INDEX CTL_ARGS...: two participants join room "ward-$LABEL" and
# talk; the caller then asks the internal API for an admitted, muted endpoint in its session.
try_hidden_listener() {
  local label=$1 index=$2
  shift 2
  local ctl=("$CHORUSCTL" --address="$GRPC_ADDR" "$@")
  "${ctl[@]}" room create meeting --room_id="ward-$label" >/dev/null || fail "$label: room create"
  local alice_key bob_key alice bob
  alice_key=$(new_key)
  bob_key=$(new_key)
  local a_token b_token
  a_token=$("${ctl[@]}" invite create "ward-$label" guest | grep -o '[A-Za-z0-9_-]\{43\}' | head -1)
  b_token=$("${ctl[@]}" invite create "ward-$label" guest | grep -o '[A-Za-z0-9_-]\{43\}' | head -1)
  [[ -n $a_token && -n $b_token ]] || fail "$label: invites"
  alice=$("${ctl[@]}" --json join "ward-$label" --invite_token="$a_token" \
    --receive=127.0.0.1:$((46300 + index * 8)) --key="$alice_key") || fail "$label: alice join"
  bob=$("${ctl[@]}" --json join "ward-$label" --invite_token="$b_token" \
    --receive=127.0.0.1:$((46304 + index * 8)) --key="$bob_key") || fail "$label: bob join"
  start_sender "alice-$label" 440 "$(field "$alice" port)" $((46340 + index * 8)) \
    "$alice_key" "$OPUS_ENCODER" 20
  start_sender "bob-$label" 880 "$(field "$bob" port)" $((46344 + index * 8)) \
    "$bob_key" "$OPUS_ENCODER" 20
  local status=0
  "${ctl[@]}" node AddEndpoint "{\"parent\": \"sessions/ward-$label\",
    \"endpoint_id\": \"eavesdropper\", \"endpoint\": {\"transport\": \"TRANSPORT_SRTP\",
      \"remote_streams\": [{\"kind\": \"MEDIA_KIND_AUDIO\",
        \"codecs\": [{\"name\": \"opus\", \"payload_type\": 111, \"clock_rate\": 48000}],
        \"address\": \"127.0.0.1\", \"port\": 46290,
        \"key\": {\"suite\": \"SRTP_SUITE_AES_CM_128_HMAC_SHA1_80\",
                 \"key_base64\": \"$(new_key)\"}}],
      \"routing\": {\"admitted\": true, \"muted\": true}}}" >"$E2E_WORK/attack-$label.txt" 2>&1 ||
    status=$?
  [[ $status != 0 ]] || fail "$label: the internal API added a hidden endpoint: $(cat "$E2E_WORK/attack-$label.txt")"
  grep -qi "unimplemented\|not implemented\|unknown service" "$E2E_WORK/attack-$label.txt" ||
    fail "$label: refused, but not because the service is absent: $(cat "$E2E_WORK/attack-$label.txt")"
  status=0
  "${ctl[@]}" node GetSessionStats "{\"name\": \"sessions/ward-$label\"}" \
    >"$E2E_WORK/stats-$label.txt" 2>&1 || status=$?
  [[ $status != 0 ]] || fail "$label: the internal API answered GetSessionStats"
  # The roster is the two of them, and it is what the room's media holds.
  local roster
  roster=$("${ctl[@]}" participants "ward-$label" 2>&1 | grep -c 'participants/' || true)
  [[ $roster == 2 ]] || fail "$label: roster of $roster"
  pass "$label: the internal API is not on the public listener (AddEndpoint and GetSessionStats refused)"
  # The room's mix flows to its two participants meanwhile (what the eavesdropper was after).
  local out=0
  for _ in $(seq 100); do
    out=$(curl -sf "http://$HTTP_ADDR/metrics" |
      sed -nE 's/^chorus_rtp_packets_total\{direction="out"\} ([0-9.e+]+)$/\1/p' | head -1)
    [[ -n $out ]] && (($(printf '%.0f' "$out") >= 200)) && break
    sleep 0.1
  done
  [[ -n $out ]] && (($(printf '%.0f' "$out") >= 200)) || fail "$label: no mix flowing ($out)"
  pass "$label: the mix flows to the two participants ($out packets)"
}

# 1. chorusd all in development mode, with the platform's token.
start_chorusd dev all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --api_tokens_file="$E2E_WORK/tokens" --media_port_min=46200 --media_port_max=46239 \
  --media_workers=1
try_hidden_listener dev 0 --insecure --token_file="$E2E_WORK/token"
[[ $("$CHORUSCTL" --insecure --address="$GRPC_ADDR" --token_file="$E2E_WORK/token" \
  health chorus.internal.v1.MediaNode 2>&1) != SERVING ]] ||
  fail "dev: the public listener reports the internal API as served"

# 2. chorusd all as deployed: TLS, tokens and a client certificate of the platform.
start_chorusd tls all --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --tls_cert="$E2E_WORK/server.crt" --tls_key="$E2E_WORK/server.key" \
  --tls_client_ca="$E2E_WORK/platform-ca.crt" --require_client_cert \
  --api_tokens_file="$E2E_WORK/tokens" --media_port_min=46240 --media_port_max=46279 \
  --media_workers=1
try_hidden_listener tls 1 --tls_ca="$E2E_WORK/platform-ca.crt" --tls_cert="$E2E_WORK/platform.crt" \
  --tls_key="$E2E_WORK/platform.key" --token_file="$E2E_WORK/token"

# Nothing reached the eavesdropper's address while both rooms talked.
sleep 1
count=$(cat "$E2E_WORK/eavesdropper.count" 2>/dev/null || echo 0)
[[ $count == 0 ]] || fail "the eavesdropper's socket received $count datagrams"
pass "no packet reached the eavesdropper's address"
