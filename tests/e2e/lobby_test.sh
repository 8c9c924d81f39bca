#!/usr/bin/env bash
# The waiting room, judged from outside with real ffmpeg clients over SRTP, driven through the
# public API with chorusctl (issue: Room controller): in a host-PIN room with the lobby on, a
# guest who joined with the guest PIN receives no audio and is not heard; once the host admits
# it, both hear each other, and watchers see who speaks.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"

start_chorusd lobby all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=41500 --media_port_max=41599 --media_workers=1

ctl room create meeting --access=host-pin --host_pin=424242 --guest_pin=1111 --lobby=true \
  --room_id=lobby-room >/dev/null || fail "room create"
ctl watch lobby-room >"$E2E_WORK/watch.txt" 2>&1 &
E2E_PIDS+=($!)
host_key=$(new_key)
guest_key=$(new_key)
host=$(ctl --json join lobby-room --pin=424242 --receive=127.0.0.1:43300 --key="$host_key") ||
  fail "host join"
guest=$(ctl --json join lobby-room --pin=1111 --receive=127.0.0.1:43304 --key="$guest_key") ||
  fail "guest join"
host_port=$(field "$host" port)
host_answer_key=$(field "$host" key_base64)
guest_port=$(field "$guest" port)
guest_answer_key=$(field "$guest" key_base64)
guest_name=$(field "$guest" name)
grep -q PARTICIPANT_STATE_WAITING <<<"$guest" || fail "the guest should wait: $guest"
grep -q PARTICIPANT_STATE_ADMITTED <<<"$host" || fail "the host is admitted: $host"
pass "host admitted, guest waiting in the lobby ($guest_name)"

# Phase 1: both talk; the guest is in the lobby.
start_receiver host1 43300 "$host_answer_key" opus 111 48000 2 3
host_receiver=$RECEIVER_PID
cat >"$E2E_WORK/guest1.sdp" <<SDP
v=0
o=- 0 0 IN IP4 127.0.0.1
s=chorus-e2e
c=IN IP4 127.0.0.1
t=0 0
m=audio 43304 RTP/SAVP 111
a=rtpmap:111 opus/48000/2
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:$guest_answer_key
SDP
timeout 6 ffmpeg -hide_banner -loglevel error -nostdin -y -protocol_whitelist file,udp,rtp,srtp \
  -i "$E2E_WORK/guest1.sdp" -t 3 -ac 1 -ar 48000 -f s16le "$E2E_WORK/guest1.raw" \
  2>"$E2E_WORK/guest1.ffmpeg.txt" &
E2E_PIDS+=($!)
guest_receiver=$!
start_sender host-talk1 440 "$host_port" 43310 "$host_key" "$OPUS_ENCODER" 6
start_sender guest-talk1 700 "$guest_port" 43314 "$guest_key" "$OPUS_ENCODER" 6
wait_all "$host_receiver" "$guest_receiver"
analyze host1 440 700
expect_db_below host1 700 -60
[[ ! -s $E2E_WORK/guest1.raw ]] || fail "the waiting guest received audio"
pass "in the lobby: the guest receives nothing and the host does not hear it"
sleep 2  # let the phase-1 senders finish

# Phase 2: admitted.
ctl admit "$guest_name" >/dev/null || fail "admit"
start_receiver host2 43300 "$host_answer_key" opus 111 48000 2 3
host_receiver=$RECEIVER_PID
start_receiver guest2 43304 "$guest_answer_key" opus 111 48000 2 3
guest_receiver=$RECEIVER_PID
start_sender host-talk2 440 "$host_port" 43320 "$host_key" "$OPUS_ENCODER" 6
start_sender guest-talk2 700 "$guest_port" 43324 "$guest_key" "$OPUS_ENCODER" 6
wait_all "$host_receiver" "$guest_receiver"
analyze host2 440 700
analyze guest2 440 700
expect_db_above host2 700 -30
expect_db_above guest2 440 -30
pass "admitted: host and guest hear each other"
grep -q '"speakers_changed"' "$E2E_WORK/watch.txt" || fail "no speakers_changed event"
grep '"speakers_changed"' "$E2E_WORK/watch.txt" | grep -q "$guest_name" ||
  fail "the guest never became a speaker"
pass "watchers saw who speaks (speakers_changed)"
