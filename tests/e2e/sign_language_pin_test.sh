#!/usr/bin/env bash
# Pinned tiles for one viewer, through the public API, judged from outside with real ffmpeg
# clients over SRTP (issues: Interpreter bridging, sign-language interpreters; Video MCU, pinned
# tiles): a doctor (H.264, blue), a deaf patient (VP8, red) and a sign-language interpreter (VP8,
# lime) in a meeting with the room's default layout (grid, no self-view). The patient pins the
# interpreter: the patient's view turns to the interpreter large with the doctor in the strip,
# while the doctor's view never changes; unpinning returns the patient to the grid. A visitor
# (yellow) stays in the waiting room with its camera on the whole time: it appears in nobody's
# view and receives no picture.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
: "${FRAME_PROBE:?set FRAME_PROBE to the chorus-frame-probe binary}"

start_chorusd signing all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=45900 --media_port_max=45949 --media_workers=1
ctl room create meeting --access=host-pin --host_pin=424242 --guest_pin=1111 --lobby=true \
  --room_id=signing >/dev/null || fail "room create"
join_with_video signing 424242 doctor H264 45950 45954
join_with_video signing 1111 patient VP8 45960 45964
join_with_video signing 1111 signer VP8 45970 45974
join_with_video signing 1111 visitor VP8 45980 45984
grep -q PARTICIPANT_STATE_WAITING <<<"$JOIN_visitor" || fail "the visitor should wait: $JOIN_visitor"
ctl admit "$PARTICIPANT_patient" >/dev/null || fail "admit patient"
ctl admit "$PARTICIPANT_signer" >/dev/null || fail "admit signer"
pass "doctor, patient and interpreter in the room with video; a visitor waiting in the lobby"

start_video_receiver doctor-view 45954 H264 "$VIEW_KEY_doctor" 14
receivers=("$RECEIVER_PID")
start_video_receiver patient-view 45964 VP8 "$VIEW_KEY_patient" 14
receivers+=("$RECEIVER_PID")
start_video_receiver visitor-view 45984 VP8 "$VIEW_KEY_visitor" 14
visitor_receiver=$RECEIVER_PID
start_video_sender doctor-camera blue 320x240 H264 "$VIDEO_PORT_doctor" 45990 "$SEND_KEY_doctor" 22
start_video_sender patient-camera red 320x240 VP8 "$VIDEO_PORT_patient" 45992 "$SEND_KEY_patient" 22
start_video_sender signer-camera lime 320x240 VP8 "$VIDEO_PORT_signer" 45994 "$SEND_KEY_signer" 22
start_video_sender visitor-camera yellow 320x240 VP8 "$VIDEO_PORT_visitor" 45996 \
  "$SEND_KEY_visitor" 22

# The receivers record 14 s from the view's first keyframe: the grid, then the pin (about 6 s in,
# for 4 s), then the grid again.
sleep 6
pinned=$(ctl pin "$PARTICIPANT_patient" "$PARTICIPANT_signer") || fail "pin"
grep -q "pinned=$PARTICIPANT_signer" <<<"$pinned" || fail "the participant should show its pin: $pinned"
status=0
ctl pin "$PARTICIPANT_patient" "$PARTICIPANT_patient" >/dev/null 2>&1 || status=$?
[[ $status != 0 ]] || fail "a participant pinning itself should be refused"
sleep 4
ctl pin "$PARTICIPANT_patient" none >/dev/null || fail "unpin"
wait_all "${receivers[@]}"
kill "$visitor_receiver" 2>/dev/null || true
wait "$visitor_receiver" 2>/dev/null || true

blue="41 240 110" red="81 90 240" lime="145 54 34" yellow="210 16 146"
# The room's grid without self-view, two tiles side by side: (160,180) and (480,180).
some_frame patient-view "160,180;480,180" "$blue;$lime" ||
  fail "the patient never saw the grid (doctor, interpreter)"
# Pinned: the interpreter large on top (640x270), the doctor in the strip below.
some_frame patient-view "320,135;320,315" "$lime;$blue" ||
  fail "the patient never saw the interpreter large with the doctor below"
pass "the patient's pin shows the sign-language interpreter large, the doctor in the strip"
seen=$(probe_frame patient-view -1 "160,180;480,180" | awk '$1 == "point" { printf "%s %s %s;", $4, $5, $6 }')
IFS=';' read -r left right <<<"$seen"
yuv_near "$left" "$blue" && yuv_near "$right" "$lime" ||
  fail "after unpinning, the patient's last frame should be the grid again, saw '$seen'"
pass "unpinned: the patient is back to the room's layout"
some_frame doctor-view "160,180;480,180" "$red;$lime" || fail "the doctor never saw the grid"
! some_frame doctor-view "160,180" "$lime" || fail "the doctor's view changed with the patient's pin"
pass "the doctor's view keeps the room's layout throughout"

for view in doctor-view patient-view; do
  for point in 160,90 480,90 160,180 480,180 160,270 480,270 320,135 320,315; do
    ! some_frame "$view" "$point" "$yellow" ||
      fail "$view showed the waiting visitor's camera at $point"
  done
done
visitor_frames=0
if [[ -s $E2E_WORK/visitor-view.yuv ]]; then
  visitor_frames=$(probe_frame visitor-view -1 "0,0" | awk '$1 == "frames" { print $2 }')
fi
((${visitor_frames:-0} == 0)) || fail "the waiting visitor received $visitor_frames frames of the room"
pass "the visitor in the lobby is seen by nobody and sees nothing"
