#!/usr/bin/env bash
# Video forwarding (issue: pay nothing for what needs no mixing), judged with real ffmpeg clients
# over SRTP. Two VP8 participants in a consultation (no self-view) each see the other alone, in
# their own codec and size: the node forwards each one's frames to the other and encodes nothing
# (its encoded-frame counter stands still while forwarded frames go by). A third participant
# joins: everyone's view becomes the composed grid; it is removed: forwarding resumes. What the
# two received is judged by colour (the other's picture full, the grid of two in between) and by
# time: no gap between two received frames longer than the encoder's keyframe interval (3 s)
# across both switches. Loopback only; ports 47700-47799.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
: "${FRAME_PROBE:?set FRAME_PROBE to the chorus-frame-probe binary}"

start_chorusd fwd all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=47700 --media_port_max=47749 --media_workers=1 --video_workers=1
ctl room create consultation --access=shared-pin --guest_pin=2580 --lobby=false \
  --room_id=forwarding >/dev/null || fail "room create"
join_with_video forwarding 2580 alice VP8 47760 47764
join_with_video forwarding 2580 bob VP8 47770 47774
pass "two VP8 participants joined with video"

# record_view NAME PORT KEY SECONDS: a VP8 receiver as start_video_receiver's, that also logs
# each frame's presentation time (showinfo), for the gaps.
record_view() {
  cat >"$E2E_WORK/$1.sdp" <<SDP
v=0
o=- 0 0 IN IP4 127.0.0.1
s=chorus-e2e
c=IN IP4 127.0.0.1
t=0 0
m=video $2 RTP/SAVP 96
a=rtpmap:96 VP8/90000
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:$3
SDP
  timeout 50 ffmpeg -hide_banner -loglevel info -nostdin -y \
    -protocol_whitelist file,udp,rtp,srtp -analyzeduration 1000000 -i "$E2E_WORK/$1.sdp" \
    -t "$4" -fps_mode passthrough -vf showinfo -f rawvideo -pix_fmt yuv420p -s 640x360 \
    "$E2E_WORK/$1.yuv" 2>"$E2E_WORK/$1.showinfo.txt" &
  E2E_PIDS+=($!)
  RECEIVER_PID=$!
}
record_view alice-view 47764 "$VIEW_KEY_alice" 34
r1=$RECEIVER_PID
record_view bob-view 47774 "$VIEW_KEY_bob" 34
r2=$RECEIVER_PID
start_video_sender alice-camera red 640x360 VP8 "$VIDEO_PORT_alice" 47780 "$SEND_KEY_alice" 39
start_video_sender bob-camera blue 640x360 VP8 "$VIDEO_PORT_bob" 47784 "$SEND_KEY_bob" 39
# Their microphones too (a participant whose audio stops leaves after the media timeout).
start_sender alice-voice 440 "$AUDIO_PORT_alice" 47788 "$AUDIO_KEY_alice" "$OPUS_ENCODER" 39
start_sender bob-voice 660 "$AUDIO_PORT_bob" 47798 "$AUDIO_KEY_bob" "$OPUS_ENCODER" 39

metric() {
  curl -sf "http://$HTTP_ADDR/metrics" | awk -v n="$1" '$1 == n { print int($2) }'
}
# wait_metric NAME AT_LEAST SECONDS WHAT
wait_metric() {
  local deadline=$((SECONDS + $3)) value
  while :; do
    value=$(metric "$1")
    ((${value:-0} >= $2)) && return 0
    ((SECONDS < deadline)) || fail "$4 (waited $3 s; $1 is ${value:-none})"
    sleep 0.2
  done
}

# expect_forwarded_only WHAT: waits (at most 20 s) until frames are forwarded with none encoded
# (each sender's next keyframe starts it, within a second), then 150 forwarded frames (5 s at 2 x
# 15 frames/s) must go by with no frame encoded.
expect_forwarded_only() {
  local deadline=$((SECONDS + 20)) f e
  while :; do
    e=$(metric chorus_video_frames_encoded_total)
    f=$(metric chorus_video_frames_forwarded_total)
    wait_metric chorus_video_frames_forwarded_total $((f + 15)) 20 "$1: nothing forwarded"
    [[ $(metric chorus_video_frames_encoded_total) == "$e" ]] && break
    ((SECONDS < deadline)) || fail "$1: frames are still encoded"
  done
  e=$(metric chorus_video_frames_encoded_total)
  f=$(metric chorus_video_frames_forwarded_total)
  wait_metric chorus_video_frames_forwarded_total $((f + 150)) 30 "$1: forwarding stopped"
  [[ $(metric chorus_video_frames_encoded_total) == "$e" ]] ||
    fail "$1: frames were encoded while forwarded"
}
expect_forwarded_only "two parties"
started=$SECONDS
pass "two parties: each forwarded the other's frames; 150 forwarded frames, none encoded"

# A third participant: the grid, composed and encoded (300 view frames: about 4 s of three views).
# A consultation's third participant comes with the patient's consent (an invite carrying it).
carol=$(ctl invite create forwarding guest --consent=ref-1 | sed -E 's/.*token=//')
join_with_video forwarding "token=$carol" carol VP8 47790 47794
joined_at=$SECONDS
start_video_sender carol-camera lime 640x360 VP8 "$VIDEO_PORT_carol" 47796 "$SEND_KEY_carol" 20
e2=$(metric chorus_video_frames_encoded_total)
wait_metric chorus_video_frames_encoded_total $((e2 + 300)) 20 "no grid was encoded"
ctl remove "$PARTICIPANT_carol" >/dev/null || fail "remove carol"
echo "the third joined $((joined_at - started)) s and left $((SECONDS - started)) s after two-party forwarding was seen"
expect_forwarded_only "after the third left"
pass "a third participant: the grid was encoded; it left: forwarding resumed, nothing encoded"
wait_all "$r1" "$r2"

red="81 90 240" blue="41 240 110" lime="145 54 34"
some_frame alice-view "320,180;40,40" "$blue;$blue" || fail "alice never saw bob's blue full"
some_frame bob-view "320,180;40,40" "$red;$red" || fail "bob never saw alice's red full"
some_frame alice-view "160,180;480,180" "$blue;$lime" || fail "alice never saw the grid"
some_frame bob-view "160,180;480,180" "$red;$lime" || fail "bob never saw the grid"
for view in alice-view bob-view; do
  want=$blue
  [[ $view == bob-view ]] && want=$red
  seen=$(probe_frame "$view" -1 "320,180;40,40" | awk '$1 == "point" { printf "%s %s %s;", $4, $5, $6 }')
  yuv_near "${seen%%;*}" "$want" || fail "$view should end on the other's picture full: $seen"
done
pass "each saw the other full, then the grid of two with the third, then the other full again"

# No freeze longer than a keyframe interval: the largest gap between two frames received.
for view in alice-view bob-view; do
  read -r gap at < <(grep -o 'pts_time:[0-9.]*' "$E2E_WORK/$view.showinfo.txt" | cut -d: -f2 |
    awk 'NR > 1 && $1 - last > max { max = $1 - last; at = last } { last = $1 }
         END { printf "%.2f %.2f\n", max, at }')
  frames=$(grep -c 'pts_time:' "$E2E_WORK/$view.showinfo.txt")
  ((frames > 300)) || fail "$view received only $frames frames"
  awk -v g="$gap" 'BEGIN { exit !(g <= 3.0) }' || fail "$view froze for $gap s (at $at s)"
  echo "$view: $frames frames over $(grep -o 'pts_time:[0-9.]*' "$E2E_WORK/$view.showinfo.txt" |
    tail -1 | cut -d: -f2) s, largest gap $gap s at $at s"
done
pass "no gap over 3 s in either view across the switches"
