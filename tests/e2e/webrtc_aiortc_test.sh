#!/usr/bin/env bash
# WebRTC participants from a second, independent WebRTC implementation (Debian's python3-aiortc),
# in a network namespace with only loopback (issue: WebRTC on the media node). Three people in
# one room: two WebRTC peers sending tones and solid colours, and an ffmpeg SRTP client. Each
# WebRTC peer hears the other two at full level and not itself (FFT of what it decoded) and sees
# the other's colour; the ffmpeg client hears both WebRTC peers. Garbage, forged STUN and DTLS
# from a stranger at the shared port meanwhile change nothing for anyone. Then the waiting room:
# a WebRTC guest of a consultation receives nothing until it is admitted, and hears the host from
# then on. Last, a 5 % lossy link.
if [[ -z ${CHORUS_E2E_NETNS:-} ]]; then
  exec unshare --net env CHORUS_E2E_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
require_aiortc

start_chorusd webrtc all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=46400 --media_port_max=46449 --webrtc_port=46450 --media_workers=1 \
  --video_workers=1
token() { ctl invite create "$1" "$2" "${@:3}" | sed -E 's/.*token=//'; }

# 1. Three participants: two WebRTC peers and an ffmpeg SRTP client.
ctl room create meeting --room_id=ward >/dev/null || fail "room create"
ffmpeg_key=$(new_key)
ffmpeg=$(ctl --json join ward --invite_token="$(token ward guest)" --receive=127.0.0.1:46460 \
  --key="$ffmpeg_key") || fail "ffmpeg join"
start_receiver ffmpeg 46460 "$(field "$ffmpeg" key_base64)" opus 111 48000 2 9
ffmpeg_receiver=$RECEIVER_PID
start_sender ffmpeg-talk 660 "$(field "$ffmpeg" port)" 46462 "$ffmpeg_key" "$OPUS_ENCODER" 14
$PEER --server="$GRPC_ADDR" --room=ward --invite_token="$(token ward guest)" --loopback \
  --tone=440 --video=ff0000 --see=0000ff --seconds=12 \
  --hear=880:-30 --hear=660:-30 --not_hear=440:-40 >"$E2E_WORK/alice.json" 2>"$E2E_WORK/alice.err" &
alice=$!
E2E_PIDS+=($alice)
$PEER --server="$GRPC_ADDR" --room=ward --invite_token="$(token ward guest)" --loopback \
  --tone=880 --video=0000ff --see=ff0000 --seconds=12 \
  --hear=440:-30 --hear=660:-30 --not_hear=880:-40 >"$E2E_WORK/bob.json" 2>"$E2E_WORK/bob.err" &
bob=$!
E2E_PIDS+=($bob)

# 2. A stranger meanwhile throws garbage, forged STUN and DTLS at the shared port.
/usr/bin/python3 - "$(cut -d: -f2 <<<"$GRPC_ADDR")" <<'PY' &
import os, socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 8
n = 0
while time.time() < end:
    junk = os.urandom(200)
    # a Binding request with a made-up USERNAME and MESSAGE-INTEGRITY
    user = b"nosuchufrag:x"
    attrs = struct.pack("!HH", 0x0006, len(user)) + user + b"\0" * ((4 - len(user) % 4) % 4)
    attrs += struct.pack("!HH", 0x0008, 20) + os.urandom(20)
    stun = struct.pack("!HHI", 0x0001, len(attrs), 0x2112A442) + os.urandom(12) + attrs
    dtls = bytes([22, 0xfe, 0xfd]) + os.urandom(10) + b"\x00\x20" + os.urandom(32)
    for datagram in (junk, stun, dtls, b"\x80" + os.urandom(100)):
        s.sendto(datagram, ("127.0.0.1", 46450))
        n += 1
    time.sleep(0.002)
PY
E2E_PIDS+=($!)

wait "$alice" || fail "alice: $(cat "$E2E_WORK/alice.json") $(tail -3 "$E2E_WORK/alice.err")"
wait "$bob" || fail "bob: $(cat "$E2E_WORK/bob.json") $(tail -3 "$E2E_WORK/bob.err")"
pass "alice (WebRTC) hears bob and the ffmpeg client, not herself, and sees bob: $(cat "$E2E_WORK/alice.json")"
pass "bob (WebRTC) hears alice and the ffmpeg client, not himself, and sees alice: $(cat "$E2E_WORK/bob.json")"
wait_all "$ffmpeg_receiver"
analyze ffmpeg 440 880 660
expect_db_above ffmpeg 440 -30
expect_db_above ffmpeg 880 -30
expect_db_below ffmpeg 660 -45
pass "the ffmpeg client hears both WebRTC peers, not itself"
metrics=$(curl -sf "http://$HTTP_ADDR/metrics")
for reason in unknown_peer; do
  grep -q "chorus_packet_drops_total{reason=\"$reason\"} [1-9]" <<<"$metrics" ||
    fail "the stranger's datagrams were not counted as $reason"
done
pass "the stranger's garbage, forged STUN and DTLS were dropped and counted (unknown_peer)"

# 3. The waiting room: a WebRTC guest receives nothing until admitted.
ctl room create consultation --room_id=lobby >/dev/null || fail "consultation"
host_key=$(new_key)
host=$(ctl --json join lobby --invite_token="$(token lobby host)" --receive=127.0.0.1:46464 \
  --key="$host_key") || fail "host join"
start_sender host-talk 550 "$(field "$host" port)" 46466 "$host_key" "$OPUS_ENCODER" 16
$PEER --server="$GRPC_ADDR" --room=lobby --invite_token="$(token lobby guest)" --loopback \
  --tone=330 --seconds=12 --hear=550:-30 --status="$E2E_WORK/guest.status" \
  >"$E2E_WORK/guest.json" 2>"$E2E_WORK/guest.err" &
guest=$!
E2E_PIDS+=($guest)
for _ in $(seq 100); do grep -q connected "$E2E_WORK/guest.status" 2>/dev/null && break; sleep 0.1; done
grep -q connected "$E2E_WORK/guest.status" || fail "the guest's WebRTC transport did not connect"
participant=$(ctl participants lobby | grep -o 'rooms/lobby/participants/[a-z0-9]*' | tail -1)
# Three seconds in the lobby with its transport up (the host talking all the while), then admitted.
sleep 3
admitted_at=$(date +%s.%N)
ctl admit "$participant" >/dev/null || fail "admit"
wait "$guest" || fail "guest: $(cat "$E2E_WORK/guest.json") $(tail -3 "$E2E_WORK/guest.err")"
first_audio=$(awk '$1 == "first_audio" { print $2 }' "$E2E_WORK/guest.status")
[[ -n $first_audio ]] || fail "the admitted guest heard nothing"
awk -v a="$first_audio" -v b="$admitted_at" 'BEGIN { exit !(a >= b - 0.05) }' ||
  fail "the waiting guest received audio at $first_audio, before it was admitted at $admitted_at"
pass "in the waiting room the WebRTC guest received nothing; admitted, it hears the host: $(cat "$E2E_WORK/guest.json")"

# 4. A lossy link: 5 % of what one WebRTC peer sends and receives is lost (both ways). What
# Chorus makes of the lossy peer's speech stays continuous for the other (Opus in-band FEC and
# concealment: at most 10 % of the 20 ms windows of the judged tail without its tone; in practice
# none), the lossy peer still hears the other, and video recovers both ways: lost packets are
# asked for again (NACK) and resent, and each still sees the other's picture at the end (judged
# by brightness: a sender that lowers its bitrate under loss may let chroma fade).
ctl room create meeting --room_id=lossy >/dev/null || fail "room create lossy"
before=$(curl -sf "http://$HTTP_ADDR/metrics" |
  awk '/^chorus_video_(nacks_received|retransmissions|nacks_sent)_total /{s+=$2} END {print s+0}')
$PEER --server="$GRPC_ADDR" --room=lossy --invite_token="$(token lossy guest)" --loopback \
  --tone=440 --video=0000ff --see=00ff00 --see_luma_only --seconds=14 --loss=0.05 --seed=7 \
  --hear=770:-30 --not_hear=440:-40 --max_gap_share=0.1 \
  >"$E2E_WORK/lossy.json" 2>"$E2E_WORK/lossy.err" &
lossy=$!
E2E_PIDS+=($lossy)
$PEER --server="$GRPC_ADDR" --room=lossy --invite_token="$(token lossy guest)" --loopback \
  --tone=770 --video=00ff00 --see=0000ff --see_luma_only --seconds=14 \
  --hear=440:-30 --not_hear=770:-40 --max_gap_share=0.1 \
  >"$E2E_WORK/clean.json" 2>"$E2E_WORK/clean.err" &
clean=$!
E2E_PIDS+=($clean)
wait "$lossy" || fail "lossy peer: $(cat "$E2E_WORK/lossy.json") $(tail -3 "$E2E_WORK/lossy.err")"
wait "$clean" || fail "clean peer: $(cat "$E2E_WORK/clean.json") $(tail -3 "$E2E_WORK/clean.err")"
after=$(curl -sf "http://$HTTP_ADDR/metrics" |
  awk '/^chorus_video_(nacks_received|retransmissions|nacks_sent)_total /{s+=$2} END {print s+0}')
((after > before)) || fail "no NACK was sent, received or answered under 5 % loss"
pass "5 % loss on a WebRTC link: speech continuous and video recovered ($((after - before)) NACKs and retransmissions): $(cat "$E2E_WORK/lossy.json") / $(cat "$E2E_WORK/clean.json")"
