#!/usr/bin/env bash
# A SIP caller dials into a room. baresip (an independent SIP client) calls
# "<dial_in_id>*<pin>@" the SIP role (`chorusd sip`), which joins it through the controller's
# public API like any platform; its SDES-SRTP media then flows to and from the media node. An
# ffmpeg participant of the same room, joined through the API with the PIN, hears the caller's
# 880 Hz tone and the caller hears its 440 Hz one (FFT of what each decoded). A caller that offers
# plain RTP gets 488, a wrong PIN 403 (and it counts toward the room's lockout), a number of no
# room 404; the caller's hang-up (BYE) makes its participant leave, and a host's removal sends
# the caller a BYE. Floods of INVITEs and OPTIONS and malformed requests (SIPp) during the call are
# refused or rate-limited and leave it alone. Nothing of a SIP URI, dial string or PIN reaches a
# log.
# Ports: 47800-47899.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/sip_lib.sh"
command -v baresip >/dev/null || fail "baresip is not installed (scripts/install-deps.sh installs it)"

PIN=24680
SIP_PORT=47801
start_chorusd all all --dev --grpc_listen=127.0.0.1:47800 --http_listen=127.0.0.1:0 \
  --media_port_min=47810 --media_port_max=47849
CONTROLLER=$GRPC_ADDR
CONTROLLER_HTTP=$HTTP_ADDR

room_line=$(ctl room create meeting --access=shared-pin --guest_pin=$PIN --lobby=false) ||
  fail "room create"
ROOM=$(awk '{ print $1 }' <<<"$room_line")
DIAL=$(grep -o 'dial_in_id=[0-9]*' <<<"$room_line" | cut -d= -f2)
[[ ${#DIAL} == 9 ]] || fail "the room has no 9-digit dial-in id: $room_line"
pass "a shared-PIN room has a number to dial"

# SIP over TLS: a throwaway CA and the SIP role's certificate.
SIPS_PORT=47803
make_ca sipca
make_cert sip sipca "IP:127.0.0.1"
start_sip_role --sip_listen="sip:127.0.0.1:$SIP_PORT" --sip_controller="$CONTROLLER" \
  --sips_listen="sips:127.0.0.1:$SIPS_PORT" --sip_tls_cert="$E2E_WORK/sip.crt" \
  --sip_tls_key="$E2E_WORK/sip.key" --sip_tls_ca="$E2E_WORK/sipca.crt" \
  --sip_trusted_peers=127.0.0.0/8,2001:db8::/32

# baresip_call NAME URI SECONDS [MEDIAENC] [TRANSPORT]: a baresip caller of NAME (its own config
# folder and SIP port) that dials URI at once, sends an 880 Hz sine, keeps what it hears in
# NAME/dump-*-dec.wav and hangs up after SECONDS. MEDIAENC: srtp-mand (default) or none (plain
# RTP). TRANSPORT: udp (default) or tls (the SIP role's certificate checked against its CA).
baresip_port=47860
baresip_call() {
  local name=$1 uri=$2 seconds=$3 mediaenc=${4:-srtp-mand} transport=${5:-udp}
  local dir="$E2E_WORK/$name"
  baresip_port=$((baresip_port + 2))
  baresip_config "$dir" "$name" "$baresip_port" $((47873 + baresip_port - 47860)) \
    "sip_cafile		$E2E_WORK/sipca.crt"
  local params="regint=0;audio_codecs=PCMU"
  [[ $mediaenc == none ]] || params+=";mediaenc=$mediaenc"
  echo "<sip:caller@127.0.0.1;transport=$transport>;$params" >"$dir/accounts"
  timeout $((seconds + 10)) baresip -f "$dir" -n 127.0.0.1 -t "$seconds" -e "/dial $uri" \
    >"$E2E_WORK/baresip-$name.log" 2>&1 &
  E2E_PIDS+=($!)
  BARESIP_PID=$!
}

# 1. Refusals: an unknown number, a wrong PIN, plain RTP.
baresip_call nobody "sip:987654321*$PIN@127.0.0.1:$SIP_PORT" 4
wait_all "$BARESIP_PID"
baresip_call wrong "sip:$DIAL*1111@127.0.0.1:$SIP_PORT" 4
wait_all "$BARESIP_PID"
baresip_call plain "sip:$DIAL*$PIN@127.0.0.1:$SIP_PORT" 4 none
wait_all "$BARESIP_PID"
# A SIP role that takes calls only from an SBC's network (192.0.2.0/24) refuses this caller.
"$CHORUSD" sip --dev --sip_listen="sip:127.0.0.1:47805" --sip_controller="$CONTROLLER" \
  --sip_trusted_peers=192.0.2.0/24 --http_listen=127.0.0.1:0 \
  >"$E2E_WORK/sip-sbc.out" 2>"$E2E_WORK/sip-sbc.log" &
E2E_PIDS+=($!)
for _ in $(seq 150); do
  grep -qs '"event":"listening"' "$E2E_WORK/sip-sbc.log" && break
  sleep 0.1
done
baresip_call stranger "sip:$DIAL*$PIN@127.0.0.1:47805" 4
wait_all "$BARESIP_PID"
grep '"event":"sip_call_refused"' "$E2E_WORK/sip-sbc.log" | grep -q '"why":"untrusted_peer"' ||
  fail "a caller outside the trusted peers was not refused ($(grep sip_call "$E2E_WORK/sip-sbc.log"))"
for expected in '"status":404' '"status":403' '"status":488'; do
  grep '"event":"sip_call_refused"' "$E2E_WORK/sip.log" | grep -q "$expected" ||
    fail "no call refused with $expected ($(grep sip_call "$E2E_WORK/sip.log" | tr '\n' ' '))"
done
pass "an unknown number gets 404, a wrong PIN 403, plain RTP 488, a caller from outside the trusted peers 403"

# 2. The call, over TLS: an ffmpeg participant (440 Hz) and the SIP caller (880 Hz), 14 s.
key=$(new_key)
answer=$(ctl --json join "$ROOM" --pin=$PIN --receive=127.0.0.1:47850 --key="$key" \
  --codec=opus/111) || fail "the ffmpeg participant's join"
start_receiver ffmpeg 47850 "$(field "$answer" key_base64)" opus 111 48000 2 12
start_sender ffmpeg 440 "$(field "$answer" port)" 47852 "$key" "$OPUS_ENCODER" 14
baresip_call caller "sip:$DIAL*$PIN@127.0.0.1:$SIPS_PORT" 14 srtp-mand tls
caller_pid=$BARESIP_PID
# Floods while the call goes on (SIPp, an independent SIP tool): INVITEs at 200 per second
# (plain RTP offers, 488; over the limit of new calls, 503), OPTIONS at 200 per second, and
# malformed requests. They are refused or rate-limited; the call does not notice.
for _ in $(seq 100); do
  grep -q '"event":"sip_call_answered"' "$E2E_WORK/sip.log" && break
  sleep 0.1
done
sipp_run() {
  local name=$1 port=$2
  shift 2
  timeout 20 sipp -nostdin -i 127.0.0.1 -p "$port" "127.0.0.1:$SIP_PORT" -s "$DIAL" \
    -timeout 8s "$@" >"$E2E_WORK/sipp-$name.txt" 2>&1 &
  E2E_PIDS+=($!)
  SIPP_PIDS+=($!)
}
SIPP_PIDS=()
sipp_run invites 47890 -sn uac -r 200 -m 1000 -trace_msg \
  -message_file "$E2E_WORK/sipp-invites-messages.txt"
sipp_run options 47892 -sf "$(dirname "$0")/sip/options_flood.xml" -r 200 -m 1000
sipp_run malformed 47894 -sf "$(dirname "$0")/sip/malformed.xml" -r 50 -m 200
wait_all "$RECEIVER_PID" "$caller_pid" "${SIPP_PIDS[@]}"
kill -0 "$SIP_PID" 2>/dev/null || fail "chorusd sip did not survive the floods"
grep -q '"event":"sip_call_answered"' "$E2E_WORK/sip.log" ||
  fail "the call was not answered ($(tail -5 "$E2E_WORK/baresip-caller.log" | tr '\n' ' '))"
analyze ffmpeg 440 880
expect_db_above ffmpeg 880 -40
pass "the ffmpeg participant hears the SIP caller over TLS ($(tone_db ffmpeg 880) dB at 880 Hz)"
dump=$(ls "$E2E_WORK"/caller/dump/*dec*.wav 2>/dev/null | head -1)
[[ -n $dump ]] || fail "baresip kept nothing of what it heard ($(ls "$E2E_WORK/caller/dump"))"
ffmpeg -hide_banner -loglevel error -nostdin -y -i "$dump" -ac 1 -ar 48000 -f s16le \
  "$E2E_WORK/caller.raw"
analyze caller 440 880
expect_db_above caller 440 -40
expect_db_below caller 880 -50
pass "the SIP caller hears the ffmpeg participant ($(tone_db caller 440) dB at 440 Hz), not itself"
# What the flooding client itself received: 503 (with Retry-After) for the calls over the limit.
busy=$(grep -c '^SIP/2.0 503 ' "$E2E_WORK/sipp-invites-messages.txt" || true)
((busy > 0)) || fail "the INVITE flood was not rate-limited: SIPp received no 503"
first_503=$(grep -m1 -A12 '^SIP/2.0 503 ' "$E2E_WORK/sipp-invites-messages.txt")
grep -qi '^Retry-After: 5' <<<"$first_503" ||
  fail "the 503 answers to the INVITE flood carry no Retry-After"
pass "floods of INVITEs (SIPp received $busy responses 503 with Retry-After, retransmissions included), OPTIONS and malformed requests left the call alone"

# 3b. Hold and resume (re-INVITEs, SIPp): the answers mirror the offers' directions; moving the
# media elsewhere is refused (488) and the call goes on to its BYE.
timeout 20 sipp -nostdin -i 127.0.0.1 -p 47897 "127.0.0.1:$SIP_PORT" -s "$DIAL*$PIN" \
  -sf "$(dirname "$0")/sip/hold.xml" -m 1 -timeout 15s >"$E2E_WORK/sipp-hold.txt" 2>&1 ||
  fail "hold and resume by re-INVITE failed ($(grep -i -m3 -e fail -e unexpected "$E2E_WORK/sipp-hold.txt" | tr '\n' ' '))"
grep -q '"event":"sip_reinvite_answered".*"on_hold":true' "$E2E_WORK/sip.log" ||
  fail "no re-INVITE putting the call on hold was answered"
pass "a call is put on hold and resumed by re-INVITEs; a re-INVITE moving its media gets 488"

# 3. The hang-up: the caller's participant leaves.
for _ in $(seq 100); do
  [[ $(ctl participants "$ROOM" | grep -c participants/) -le 1 ]] && break
  sleep 0.1
done
[[ $(ctl participants "$ROOM" | grep -c participants/) -le 1 ]] ||
  fail "the SIP caller's participant is still in the room after its BYE"
pass "the caller's BYE makes its participant leave"

# 4. A host removes a SIP caller: its call ends with a BYE from Chorus.
ffmpeg_participant=$(field "$answer" name)
answered_before=$(grep -c '"event":"sip_call_answered"' "$E2E_WORK/sip.log")
baresip_call removed "sip:$DIAL*$PIN@127.0.0.1:$SIP_PORT" 40
for _ in $(seq 150); do
  [[ $(grep -c '"event":"sip_call_answered"' "$E2E_WORK/sip.log") -gt $answered_before ]] && break
  sleep 0.1
done
[[ $(grep -c '"event":"sip_call_answered"' "$E2E_WORK/sip.log") -gt $answered_before ]] ||
  fail "the call to be removed was not answered"
sip_participant=$(ctl participants "$ROOM" | grep -o 'rooms/[^ ]*/participants/[0-9a-f]*' |
  { grep -v "$ffmpeg_participant" || true; } | head -1)
[[ -n $sip_participant ]] || fail "the second caller is not in the roster"
ctl remove "$sip_participant" >/dev/null || fail "remove the SIP caller"
for _ in $(seq 100); do
  grep -q "session closed" "$E2E_WORK/baresip-removed.log" && break
  sleep 0.1
done
grep -q "session closed" "$E2E_WORK/baresip-removed.log" ||
  fail "the removed caller's call did not end ($(tail -3 "$E2E_WORK/baresip-removed.log" | tr '\n' ' '))"
grep -q '"event":"sip_call_ended_by_room"' "$E2E_WORK/sip.log" || fail "no sip_call_ended_by_room"
kill -TERM "$BARESIP_PID" 2>/dev/null || true
pass "a caller removed by the host gets a BYE and its call ends"

# 5. Privacy: no dial string, PIN or SIP URI in any log; the certificate's folder is gone.
for log in "$E2E_WORK/all.log" "$E2E_WORK/sip.log" "$E2E_WORK/sip-sbc.log"; do
  if grep -q -e "$DIAL\*" -e "$PIN" -e "sip:caller" "$log"; then
    fail "$(basename "$log") holds a dial string, a PIN or a SIP URI"
  fi
done
metrics=$(curl -sf "http://$SIP_HTTP/metrics") || fail "the SIP role's metrics"
grep -q 'chorus_sip_calls_total{result="answered"} 3' <<<"$metrics" || fail "answered calls: $metrics"
grep -q 'chorus_sip_calls 0' <<<"$metrics" || fail "calls in progress: $metrics"
[[ -n $(ls "$E2E_WORK/siptmp") ]] || fail "no folder for sofia-sip's certificate while serving"
kill -TERM "$SIP_PID"
wait_exit "$SIP_PID" 10
[[ $EXIT_STATUS == 0 ]] || fail "chorusd sip exited with $EXIT_STATUS on SIGTERM"
[[ -z $(ls "$E2E_WORK/siptmp") ]] || fail "the certificate's folder outlived chorusd sip"
pass "no dial string, PIN or SIP URI in the logs; the SIP role counts its calls and stops cleanly"
