#!/usr/bin/env bash
# A two-party consultation through the public API (issue: Video MCU, test 3): a clinician's room
# system speaking H.264 and a patient's client speaking VP8 join with chorusctl, each offering
# audio and video; each receives, in its own codec, the other's picture (the room's default
# layout: no self-view), judged by colour in what an ffmpeg receiver decoded.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
: "${FRAME_PROBE:?set FRAME_PROBE to the chorus-frame-probe binary}"

start_chorusd two all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=45700 --media_port_max=45749 --media_workers=1
ctl room create consultation --access=shared-pin --guest_pin=2580 --lobby=false \
  --room_id=consult >/dev/null || fail "room create"

# join_with_video NAME CODEC AUDIO_PORT VIDEO_PORT: sets VIDEO_PORT_<NAME>, VIEW_KEY_<NAME>,
# SEND_KEY_<NAME>.
join_with_video() {
  local name=$1 codec=$2 audio_port=$3 video_port=$4 send_key answer video_part
  send_key=$(new_key)
  answer=$(ctl --json join consult --pin=2580 --receive=127.0.0.1:"$audio_port" --key="$(new_key)" \
    --video_receive=127.0.0.1:"$video_port" --video_key="$send_key" \
    --video_codec="$codec/96" --video_size=640x360) || fail "join $name"
  video_part=${answer#*MEDIA_KIND_VIDEO}
  [[ $video_part != "$answer" ]] || fail "no video in the answer for $name: $answer"
  printf -v "VIDEO_PORT_$name" '%s' "$(grep -o '"port": [0-9]*' <<<"$video_part" | head -1 |
    grep -o '[0-9]*$')"
  printf -v "VIEW_KEY_$name" '%s' "$(grep -o '"key_base64": "[^"]*"' <<<"$video_part" |
    head -1 | cut -d'"' -f4)"
  printf -v "SEND_KEY_$name" '%s' "$send_key"
}
join_with_video clinician H264 45800 45804
join_with_video patient VP8 45810 45814
pass "an H.264 and a VP8 participant joined through the public API with video"

start_video_receiver clinician-view 45804 H264 "$VIEW_KEY_clinician" 5
r1=$RECEIVER_PID
start_video_receiver patient-view 45814 VP8 "$VIEW_KEY_patient" 5
r2=$RECEIVER_PID
start_video_sender clinician-camera blue 640x480 H264 "$VIDEO_PORT_clinician" 45820 \
  "$SEND_KEY_clinician" 12
start_video_sender patient-camera red 320x240 VP8 "$VIDEO_PORT_patient" 45824 \
  "$SEND_KEY_patient" 12
wait_all "$r1" "$r2"

blue="41 240 110" red="81 90 240"
seen=$(probe_frame clinician-view -1 "320,180" | awk '$1 == "point" { print $4, $5, $6 }')
yuv_near "$seen" "$red" || fail "the clinician (H.264) should see the patient's red, saw '$seen'"
pass "the H.264 clinician sees the VP8 patient ($seen)"
seen=$(probe_frame patient-view -1 "320,180" | awk '$1 == "point" { print $4, $5, $6 }')
yuv_near "$seen" "$blue" || fail "the patient (VP8) should see the clinician's blue, saw '$seen'"
pass "the VP8 patient sees the H.264 clinician ($seen)"
