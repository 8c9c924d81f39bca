#!/usr/bin/env bash
# A two-party consultation through the public API (issue: Video MCU, test 3): a clinician's room
# system speaking H.264 and a patient's client speaking VP8 join with chorusctl, each offering
# audio and video; each receives, in its own codec, the other's picture (the room's default
# layout: no self-view), judged by colour in what an ffmpeg receiver decoded. Then the patient
# shares content (test 2): both views turn to the presentation layout, the content large and the
# cameras in the strip below.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
: "${FRAME_PROBE:?set FRAME_PROBE to the chorus-frame-probe binary}"

start_chorusd two all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=45700 --media_port_max=45749 --media_workers=1
ctl room create consultation --access=shared-pin --guest_pin=2580 --lobby=false \
  --room_id=consult >/dev/null || fail "room create"

join_with_video consult 2580 clinician H264 45800 45804
join_with_video consult 2580 patient VP8 45810 45814
pass "an H.264 and a VP8 participant joined through the public API with video"

start_video_receiver clinician-view 45804 H264 "$VIEW_KEY_clinician" 12
r1=$RECEIVER_PID
start_video_receiver patient-view 45814 VP8 "$VIEW_KEY_patient" 12
r2=$RECEIVER_PID
start_video_sender clinician-camera blue 640x480 H264 "$VIDEO_PORT_clinician" 45820 \
  "$SEND_KEY_clinician" 20
start_video_sender patient-camera red 320x240 VP8 "$VIDEO_PORT_patient" 45824 \
  "$SEND_KEY_patient" 20
start_video_sender patient-content white 1280x720 VP8 "$CONTENT_PORT_patient" 45828 \
  "$CONTENT_KEY_patient" 20
# Content flows but is not shared yet: the views stay the cameras. Then the patient shares.
sleep 7
ctl share "$PARTICIPANT_patient" >/dev/null || fail "share"
status=0
ctl share "$PARTICIPANT_clinician" >/dev/null 2>&1 || status=$?
[[ $status != 0 ]] || fail "two participants may not share at once"
wait_all "$r1" "$r2"

blue="41 240 110" red="81 90 240"
white="235 128 128"
some_frame clinician-view "320,180" "$red" ||
  fail "the clinician (H.264) never saw the patient's red camera"
pass "the H.264 clinician sees the VP8 patient"
some_frame patient-view "320,180" "$blue" ||
  fail "the patient (VP8) never saw the clinician's blue camera"
pass "the VP8 patient sees the H.264 clinician"
# Presentation (the last frames): content large (640x270 on top), the cameras below: the
# other participant's camera (self-view off).
seen=$(probe_frame clinician-view -1 "320,135" | awk '$1 == "point" { print $4, $5, $6 }')
yuv_near "$seen" "$white" || fail "the clinician should see the shared content large, saw '$seen'"
seen=$(probe_frame patient-view -1 "320,135" | awk '$1 == "point" { print $4, $5, $6 }')
yuv_near "$seen" "$white" || fail "the patient should see its content large, saw '$seen'"
seen=$(probe_frame clinician-view -1 "320,315" | awk '$1 == "point" { print $4, $5, $6 }')
yuv_near "$seen" "$red" || fail "the clinician's strip should show the patient's camera, saw '$seen'"
pass "content shared: both views turn to the presentation layout, content large"
