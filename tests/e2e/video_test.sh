#!/usr/bin/env bash
# The video MCU, judged from outside with real ffmpeg clients over SRTP (issue: Video MCU, test 1
# and, within it, test 3): four participants send solid-colour video, two in VP8 and two in
# H.264, and each receives its view in the codec it sent. With the grid layout and self-view on,
# every receiver decodes a 2x2 grid with the four colours in join order, and the node runs one
# encoder per codec (not one per receiver). Then the speaker layout with self-view off: each
# receiver sees the first of the others large and the two others in the strip below (1+2).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
: "${FRAME_PROBE:?set FRAME_PROBE to the chorus-frame-probe binary}"

start_chorusd video all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=45300 --media_port_max=45349 --media_workers=1
node CreateSession '{"session_id": "video"}' >/dev/null || fail "CreateSession"

names=(red lime blue yellow)
# Y U V of each colour after ffmpeg's conversion (BT.601, limited range).
expect_yuv=("81 90 240" "145 54 34" "41 240 110" "210 16 146")
codecs=(VP8 VP8 H264 H264)
for i in 0 1 2 3; do
  audio_key=$(new_key)
  video_key=$(new_key)
  answer=$(node AddEndpoint "{
    \"parent\": \"sessions/video\", \"endpoint_id\": \"v$i\",
    \"endpoint\": {\"transport\": \"TRANSPORT_SRTP\", \"routing\": {\"admitted\": true},
      \"remote_streams\": [
        {\"kind\": \"MEDIA_KIND_AUDIO\",
         \"codecs\": [{\"name\": \"opus\", \"payload_type\": 111, \"clock_rate\": 48000}],
         \"address\": \"127.0.0.1\", \"port\": $((45400 + i * 2)),
         \"key\": {\"suite\": \"SRTP_SUITE_AES_CM_128_HMAC_SHA1_80\", \"key_base64\": \"$audio_key\"}},
        {\"kind\": \"MEDIA_KIND_VIDEO\",
         \"codecs\": [{\"name\": \"${codecs[i]}\", \"payload_type\": 96, \"clock_rate\": 90000}],
         \"address\": \"127.0.0.1\", \"port\": $((45420 + i * 4)), \"width\": 640, \"height\": 360,
         \"key\": {\"suite\": \"SRTP_SUITE_AES_CM_128_HMAC_SHA1_80\", \"key_base64\": \"$video_key\"}}]}}") ||
    fail "AddEndpoint v$i"
  local_part=${answer#*\"local_streams\"}
  video_part=${local_part#*MEDIA_KIND_VIDEO}
  video_port[i]=$(grep -o '"port": [0-9]*' <<<"$video_part" | head -1 | grep -o '[0-9]*$')
  video_answer_key[i]=$(grep -o '"key_base64": "[^"]*"' <<<"$video_part" | head -1 | cut -d'"' -f4)
  send_key[i]=$video_key
  [[ -n ${video_port[i]} && -n ${video_answer_key[i]} ]] || fail "no video answer for v$i: $answer"
done
pass "four endpoints with audio and video (2 x VP8, 2 x H.264)"

# start_video_receiver I: an ffmpeg SRTP receiver of v$I's view, decoded to raw yuv420p.
start_video_receiver() {
  local i=$1 port=$((45420 + $1 * 4)) fmtp=""
  [[ ${codecs[i]} == H264 ]] && fmtp="a=fmtp:96 packetization-mode=1"
  cat >"$E2E_WORK/view$i.sdp" <<SDP
v=0
o=- 0 0 IN IP4 127.0.0.1
s=chorus-e2e
c=IN IP4 127.0.0.1
t=0 0
m=video $port RTP/SAVP 96
a=rtpmap:96 ${codecs[i]}/90000
$fmtp
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${video_answer_key[i]}
SDP
  timeout 40 ffmpeg -hide_banner -loglevel error -nostdin -y \
    -protocol_whitelist file,udp,rtp,srtp -analyzeduration 1000000 -i "$E2E_WORK/view$i.sdp" \
    -t 10 -fps_mode passthrough -f rawvideo -pix_fmt yuv420p -s 640x360 \
    "$E2E_WORK/view$i.yuv" 2>"$E2E_WORK/view$i.ffmpeg.txt" &
  E2E_PIDS+=($!)
  RECEIVER_PID=$!
}
receivers=()
for i in 0 1 2 3; do
  start_video_receiver "$i"
  receivers+=("$RECEIVER_PID")
done
for i in 0 1 2 3; do
  if [[ ${codecs[i]} == VP8 ]]; then
    encoder="-c:v libvpx -deadline realtime -cpu-used 8 -b:v 300k"
  else
    encoder="-c:v libx264 -preset ultrafast -tune zerolatency -profile:v baseline -b:v 300k"
  fi
  local_port=$((45440 + i * 4))
  # shellcheck disable=SC2086
  timeout 40 ffmpeg -hide_banner -loglevel error -nostdin -re \
    -f lavfi -i "color=c=${names[i]}:s=320x240:r=15" -t 17 -pix_fmt yuv420p -g 15 $encoder \
    -payload_type 96 -f rtp -srtp_out_suite AES_CM_128_HMAC_SHA1_80 \
    -srtp_out_params "${send_key[i]}" \
    "srtp://127.0.0.1:${video_port[i]}?rtcpport=${video_port[i]}&localrtpport=$local_port&localrtcpport=$((local_port + 1))" \
    >/dev/null 2>"$E2E_WORK/send$i.ffmpeg.txt" &
  E2E_PIDS+=($!)
done

# The receivers start on the view's next keyframe (at most 3 s) and record 10 s: the grid fills
# the first seconds of each recording, the speaker layout the last ones.
sleep 8
grid_encoders=$(node GetSessionStats '{"name": "sessions/video"}' |
  grep -o '"video_encoders": [0-9]*' | grep -o '[0-9]*$')
node SetLayout '{"session": "sessions/video", "layout": {"mode": "MODE_SPEAKER",
  "show_self_view": false}}' >/dev/null || fail "SetLayout"
sleep 2
speaker_encoders=$(node GetSessionStats '{"name": "sessions/video"}' |
  grep -o '"video_encoders": [0-9]*' | grep -o '[0-9]*$')
wait_all "${receivers[@]}"

# colour_at NAME POINT: "Y U V" at POINT (x,y) of FRAME of view NAME.
probe() { "$FRAME_PROBE" "$E2E_WORK/view$1.yuv" --size=640x360 --frame="$2" --points="$3"; }
# expect_colour VIEW FRAME X,Y INDEX WHAT
expect_colour() {
  local got want
  got=$(probe "$1" "$2" "$3" | awk '$1 == "point" { print $4, $5, $6 }')
  want=${expect_yuv[$4]}
  awk -v g="$got" -v w="$want" 'BEGIN {
    split(g, a, " "); split(w, b, " ");
    for (i = 1; i <= 3; i++) { d = a[i] - b[i]; if (d < -20 || d > 20) exit 1 }
  }' || fail "view $1, $5 at $3: got YUV '$got', expected ${names[$4]} ($want)"
}
for i in 0 1 2 3; do
  frames=$(probe "$i" -1 "0,0" | awk '$1 == "frames" { print $2 }')
  ((frames >= 100)) || fail "view $i: only $frames frames decoded ($(cat "$E2E_WORK/view$i.ffmpeg.txt"))"
done
pass "every receiver decoded its view (VP8 or H.264)"

# Grid, self-view on (2 s into the recordings): the four colours in join order, for every receiver.
centres=("160,90" "480,90" "160,270" "480,270")
for i in 0 1 2 3; do
  for tile in 0 1 2 3; do expect_colour "$i" 50 "${centres[tile]}" "$tile" "grid tile $tile"; done
done
pass "2x2 grid with self-view: every receiver finds red, lime, blue and yellow in their tiles"
[[ $grid_encoders == 2 ]] || fail "the grid should need 2 video encoders (one per codec), not '$grid_encoders'"
pass "one composition and encoder per codec for four receivers (video_encoders=$grid_encoders)"

# Speaker layout, self-view off (the last frame): the first of the others large, the rest below.
for i in 0 1 2 3; do
  others=()
  for j in 0 1 2 3; do [[ $j != "$i" ]] && others+=("$j"); done
  expect_colour "$i" -1 "320,135" "${others[0]}" "the large tile"
  expect_colour "$i" -1 "160,315" "${others[1]}" "the first small tile"
  expect_colour "$i" -1 "480,315" "${others[2]}" "the second small tile"
done
pass "1+2 layout without self-view: each receiver sees the three others, not itself"
[[ $speaker_encoders == 4 ]] || fail "4 distinct views should need 4 encoders, not '$speaker_encoders'"
pass "a distinct view per receiver once self-view is off (video_encoders=$speaker_encoders)"
