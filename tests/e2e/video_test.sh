#!/usr/bin/env bash
# The video MCU, judged from outside with real ffmpeg clients over SRTP (issue: Video MCU, tests
# 1 and 3): four participants send solid-colour video, two in VP8 and two in H.264, and each
# receives its view in the codec it sent (so VP8 and H.264 participants see each other). With
# the grid layout and self-view on, every receiver decodes a 2x2 grid with the four colours in
# join order, and the node runs one encoder per codec (not one per receiver). Then the speaker
# layout with self-view off: each receiver sees the first of the others large and the two others
# in the strip below (1+2), each view encoded once. Last, v3 starts talking: after the hold, the
# others see it large (the speaker layout follows the audio's speaker selection).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
: "${FRAME_PROBE:?set FRAME_PROBE to the chorus-frame-probe binary}"

start_chorusd video media-node --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=45300 --media_port_max=45349 --media_workers=1
node CreateSession '{"session_id": "video"}' >/dev/null || fail "CreateSession"

names=(red lime blue yellow)
# Y U V of each colour after ffmpeg's conversion (BT.601, limited range).
expect_yuv=("81 90 240" "145 54 34" "41 240 110" "210 16 146")
codecs=(VP8 VP8 H264 H264)
for i in 0 1 2 3; do
  add_video_endpoint video "v$i" "${codecs[i]}" $((45420 + i * 4))
  video_port[i]=$VIDEO_PORT
  video_answer_key[i]=$VIDEO_ANSWER_KEY
  send_key[i]=$VIDEO_SEND_KEY
  audio_port[i]=$AUDIO_PORT
  audio_key[i]=$AUDIO_SEND_KEY
done
pass "four endpoints with audio and video (2 x VP8, 2 x H.264)"

receivers=()
for i in 0 1 2 3; do
  start_video_receiver "view$i" $((45420 + i * 4)) "${codecs[i]}" "${video_answer_key[i]}" 17
  receivers+=("$RECEIVER_PID")
done
for i in 0 1 2 3; do
  start_video_sender "send$i" "${names[i]}" 320x240 "${codecs[i]}" "${video_port[i]}" \
    $((45440 + i * 4)) "${send_key[i]}" 21
done

# The receivers start on the view's next keyframe (at most 3 s) and record 17 s: the grid fills
# the first seconds of each recording, the speaker layout the last ones (v3 talks from about
# 12 s: on a busy machine its large tile needs the seconds after, past its 1 s hold).
sleep 8
grid_encoders=$(node GetSessionStats '{"name": "sessions/video"}' |
  grep -o '"video_encoders": [0-9]*' | grep -o '[0-9]*$')
node SetLayout '{"session": "sessions/video", "layout": {"mode": "MODE_SPEAKER",
  "show_self_view": false}}' >/dev/null || fail "SetLayout"
sleep 2
speaker_encoders=$(node GetSessionStats '{"name": "sessions/video"}' |
  grep -o '"video_encoders": [0-9]*' | grep -o '[0-9]*$')
sleep 2
start_sender v3-voice 440 "${audio_port[3]}" 45460 "${audio_key[3]}" "$OPUS_ENCODER" 8
wait_all "${receivers[@]}"

# expect_colour VIEW FRAME X,Y INDEX WHAT
expect_colour() {
  local got
  got=$(probe_frame "view$1" "$2" "$3" | awk '$1 == "point" { print $4, $5, $6 }')
  yuv_near "$got" "${expect_yuv[$4]}" ||
    fail "view $1, $5 at $3: got YUV '$got', expected ${names[$4]} (${expect_yuv[$4]})"
}
for i in 0 1 2 3; do
  frames=$(probe_frame "view$i" -1 "0,0" | awk '$1 == "frames" { print $2 }')
  ((frames >= 100)) || fail "view $i: only $frames frames decoded ($(cat "$E2E_WORK/view$i.ffmpeg.txt"))"
done
pass "every receiver decoded its view (VP8 or H.264)"

# Grid, self-view on (2 s into the recordings): the four colours in join order, for everyone.
centres=("160,90" "480,90" "160,270" "480,270")
for i in 0 1 2 3; do
  for tile in 0 1 2 3; do expect_colour "$i" 50 "${centres[tile]}" "$tile" "grid tile $tile"; done
done
pass "2x2 grid with self-view: every receiver finds red, lime, blue and yellow in their tiles"
[[ $grid_encoders == 2 ]] ||
  fail "the grid should need 2 video encoders (one per codec), not '$grid_encoders'"
pass "one composition and encoder per codec for four receivers (video_encoders=$grid_encoders)"

# Speaker layout, self-view off, before anyone talks: the first of the others large, the rest
# below. The recordings start on a keyframe, so each view's frames are scanned for the moment.
# shows_1_plus_2 VIEW LARGE SMALL1 SMALL2: some frame has these colour indexes in those tiles.
shows_1_plus_2() {
  local view=$1 frames f got large small1 small2
  frames=$(probe_frame "view$view" -1 "0,0" | awk '$1 == "frames" { print $2 }')
  for ((f = 0; f < frames; f += 10)); do
    got=$(probe_frame "view$view" "$f" "320,135;160,315;480,315" |
      awk '$1 == "point" { printf "%s %s %s;", $4, $5, $6 }')
    IFS=';' read -r large small1 small2 <<<"$got"
    yuv_near "$large" "${expect_yuv[$2]}" && yuv_near "$small1" "${expect_yuv[$3]}" &&
      yuv_near "$small2" "${expect_yuv[$4]}" && return 0
  done
  return 1
}
for i in 0 1 2 3; do
  others=()
  for j in 0 1 2 3; do [[ $j != "$i" ]] && others+=("$j"); done
  shows_1_plus_2 "$i" "${others[@]}" ||
    fail "view $i never showed ${names[${others[0]}]} large with ${names[${others[1]}]} and ${names[${others[2]}]} below"
done
pass "1+2 layout without self-view: each receiver sees the three others, not itself"
# v3 talked: the others now see it (yellow) large; v3 still does not see itself.
for i in 0 1 2; do expect_colour "$i" -1 "320,135" 3 "the speaker's large tile"; done
expect_colour 3 -1 "320,135" 0 "v3's own large tile (itself excluded)"
pass "the speaker layout follows who talks: v3 large for the others after the hold"
[[ $speaker_encoders == 4 ]] || fail "4 distinct views should need 4 encoders, not '$speaker_encoders'"
pass "a distinct view per receiver once self-view is off (video_encoders=$speaker_encoders)"
