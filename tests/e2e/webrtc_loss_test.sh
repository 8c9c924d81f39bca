#!/usr/bin/env bash
# 5 % packet loss on a browser's link (issue: WebRTC on the media node). A headless Chromium
# (tone 440 Hz, a red camera) and an ffmpeg SRTP client (660 Hz, a blue camera) in one room, in a
# network namespace with only loopback, where every datagram to or from the node's WebRTC port
# (the browser's whole link, both ways) is dropped with probability 1/20 as it arrives. The
# kernel here has no netem qdisc; nftables' random numbers drop the same way.
#   - The browser judges what it receives: the 660 Hz tone stays steady (sampled every 50 ms in a
#     43 ms window, hardly ever 12 dB below its median), it sees blue, frames keep coming, and it
#     asked for lost video again (NACK) or for a keyframe (PLI).
#   - The ffmpeg client judges what the browser sent through the loss: its 440 Hz tone without a
#     gap longer than 60 ms (tone analyser), and the browser's red in its view at the end.
# Ports 47400-47499.
if [[ -z ${CHORUS_E2E_NETNS:-} ]]; then
  exec unshare --net env CHORUS_E2E_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/webrtc_lib.sh"
: "${FRAME_PROBE:?set FRAME_PROBE to the chorus-frame-probe binary}"
command -v chromium >/dev/null || fail "chromium is not installed (scripts/install-deps.sh installs it)"
command -v nft >/dev/null || fail "nft is not installed (scripts/install-deps.sh installs nftables)"

readonly WEBRTC_PORT=47450
start_chorusd loss all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=47400 --media_port_max=47449 --webrtc_port=$WEBRTC_PORT --media_workers=1 \
  --video_workers=1
webrtc_start_backend 47460
nft -f - <<NFT || fail "nft: cannot set up the loss"
table inet chorus_loss {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport $WEBRTC_PORT numgen random mod 100 < 5 counter drop
    udp sport $WEBRTC_PORT numgen random mod 100 < 5 counter drop
  }
}
NFT

ctl room create meeting --room_id=ward >/dev/null || fail "room create"
audio_key=$(new_key)
video_key=$(new_key)
answer=$(ctl --json join ward --invite_token="$(token ward guest)" --receive=127.0.0.1:47470 \
  --key="$audio_key" --video_receive=127.0.0.1:47474 --video_key="$video_key" \
  --video_codec=VP8/96 --video_size=640x360) || fail "ffmpeg join"
video_part=${answer#*MEDIA_KIND_VIDEO}
video_port=$(grep -o '"port": [0-9]*' <<<"$video_part" | head -1 | grep -o '[0-9]*$')
view_key=$(grep -o '"key_base64": "[^"]*"' <<<"$video_part" | head -1 | cut -d'"' -f4)
[[ -n $video_port && -n $view_key ]] || fail "no video in the answer: $answer"
start_receiver mix 47470 "$(field "$answer" key_base64)" opus 111 48000 2 34
mix_pid=$RECEIVER_PID
start_video_receiver view 47474 VP8 "$view_key" 34
view_pid=$RECEIVER_PID
start_sender talk 660 "$(field "$answer" port)" 47476 "$audio_key" "$OPUS_ENCODER" 38
start_video_sender camera blue 320x240 VP8 "$video_port" 47478 "$video_key" 38

browser alice ward 440 ff0000 440,660 22 "&steady=14&linger=3"
wait_result alice 70
page_ok alice
echo "alice: $(cat "$E2E_WORK/results/alice.json")"
# The loss happened: the two rules' counters, to the node and from it.
read -r -a dropped <<<"$(nft list table inet chorus_loss | grep -o 'packets [0-9]*' |
  awk '{ printf "%s ", $2 }')"
((${dropped[0]:-0} >= 20 && ${dropped[1]:-0} >= 20)) ||
  fail "the loss did not happen: ${dropped[*]} datagrams dropped (to, from the node)"
/usr/bin/python3 - "$E2E_WORK/results/alice.json" <<'PY' || fail "alice: $(cat "$E2E_WORK/results/alice.json")"
import json, sys
r = json.load(open(sys.argv[1]))
steady = r["steady"]["660"]
rgb = r.get("rgb") or [-999] * 3
ok = steady["samples"] >= 200 and steady["dips"] <= steady["samples"] * 0.02
ok = ok and r["tones_db"]["660"] > -70
ok = ok and abs(rgb[0]) <= 40 and abs(rgb[1]) <= 40 and abs(rgb[2] - 255) <= 40
# Frames kept coming through the loss (the view runs at about 15 frames a second: at least 5)
# and lost packets were asked for again, or a keyframe when that could not repair a frame.
ok = ok and r["video_frames_judged"] >= 5 * 14
ok = ok and r["video_nacks_sent"] + r["video_plis_sent"] > 0
sys.exit(0 if ok else 1)
PY
pass "${dropped[0]} datagrams to the node and ${dropped[1]} from it dropped;" \
  "through 5 % loss the browser hears the ffmpeg client steadily" \
  "($(page_value alice "r['steady']['660']['dips']") dips in $(page_value alice "r['steady']['660']['samples']") samples)," \
  "sees its blue, $(page_value alice "r['video_frames_judged']") frames in 14 s," \
  "$(page_value alice "r['video_packets_lost']") video packets lost for good," \
  "$(page_value alice "r['video_nacks_sent']") NACKs and $(page_value alice "r['video_plis_sent']") PLIs sent"

# What the browser sent, through the loss, as the ffmpeg client got it.
kill -TERM "$mix_pid" "$view_pid" 2>/dev/null || true
wait_all "$mix_pid" "$view_pid"
analyze mix 440,660
echo "mix: $(tr '\n' ' ' <"$E2E_WORK/mix.report")"
expect_db_above mix 440 -40
gap=$(report_value mix longest_gap_ms)
awk -v g="$gap" 'BEGIN { exit !(g <= 60) }' || fail "the browser's tone had a gap of $gap ms"
frames=$(probe_frame view -1 "0,0" | awk '$1 == "frames" { print $2 }')
((frames > 20)) || fail "the ffmpeg client decoded $frames frames of its view"
# Red as the browser's encoder makes it of its canvas (#ff0000): V near its top, U below grey
# (a blue view, or grey, or a smear of the two, is not).
for f in $((frames * 2 / 3)) $((frames - 5)); do
  got=$(probe_frame view "$f" "320,180" | awk '$1 == "point" { print $4, $5, $6 }')
  awk -v p="$got" 'BEGIN { split(p, c, " "); exit !(c[1] < 120 && c[2] < 120 && c[3] > 200) }' ||
    fail "frame $f of $frames of the ffmpeg client's view is not red: Y U V $got"
done
camera=$(page_value alice "(r.get('camera_nacks_received', 0), r.get('camera_plis_received', 0))")
pass "through 5 % loss the ffmpeg client hears the browser without a gap over 60 ms" \
  "(longest $gap ms) and sees its red at the end; the node asked the browser for" \
  "(NACKs, PLIs) $camera"
