#!/usr/bin/env bash
# A room system with a camera dials in (issue: SIP, video from room systems). baresip (an
# independent SIP client) calls a consultation's number with its PIN and offers audio and a VP8
# camera (its test pattern) over SDES-SRTP; an ffmpeg clinician is in the room with a blue VP8
# camera. Judged from outside:
#   1. Chorus answers the call with the camera taken (the room system sends and receives video);
#   2. the clinician's view (what ffmpeg decoded) shows the room system's picture, not the
#      placeholder of a participant without video;
#   3. the room system receives and decodes the clinician's blue picture (baresip's snapshot of
#      what it received);
#   4. the room system hangs up: it leaves the room;
#   5. Chorus's RTCP (reports, keyframe requests) goes to the room system's RTCP port (it does
#      not multiplex RTCP), none to its RTP port.
# (The SDP answer itself, with content and other streams declined, is checked in
# tests/services/sip/sip_sdp_test.cc.)
# Ports: 48400-48499.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/sip_lib.sh"
: "${FRAME_PROBE:?set FRAME_PROBE to the chorus-frame-probe binary}"
command -v baresip >/dev/null || fail "baresip is not installed (scripts/install-deps.sh installs it)"

PIN=13579
SIP_PORT=48401
start_chorusd all all --dev --grpc_listen=127.0.0.1:48400 --http_listen=127.0.0.1:0 \
  --media_port_min=48410 --media_port_max=48449
room_line=$(ctl room create consultation --access=shared-pin --guest_pin=$PIN --lobby=false) ||
  fail "room create"
ROOM=$(awk '{ print $1 }' <<<"$room_line")
DIAL=$(grep -o 'dial_in_id=[0-9]*' <<<"$room_line" | cut -d= -f2)
start_sip_role --sip_listen="sip:127.0.0.1:$SIP_PORT" --sip_controller=127.0.0.1:48400

join_with_video "$ROOM" "$PIN" clinician VP8 48450 48454
start_video_receiver clinician-view 48454 VP8 "$VIEW_KEY_clinician" 10
viewer=$RECEIVER_PID
start_video_sender clinician-camera blue 640x360 VP8 "$VIDEO_PORT_clinician" 48460 \
  "$SEND_KEY_clinician" 25

# video_system DIR NAME SIP_PORT RTP_PORT CONSOLE_PORT URI_TAIL [PARAMS]: a baresip room system's
# configuration: its VP8 camera (a test pattern) and display, snapshots of what it decodes, its
# console on CONSOLE_PORT, RTP_PORT to RTP_PORT + 3 (audio and video each take a pair); its
# account sip:NAME@127.0.0.1URI_TAIL with PARAMS.
video_system() {
  baresip_config "$1" "$2" "$3" "$4" "module			fakevideo.so" "module			vp8.so" \
    "module			snapshot.so" "module			cons.so" "cons_listen		127.0.0.1:$5" \
    "video_source		fakevideo,nil" "video_display		fakevideo,nil" "video_size		640x360" \
    "video_fps		15"
  sed -i "s/^rtp_ports.*/rtp_ports\t\t$4-$(($4 + 3))/" "$1/config"
  echo "<sip:$2@127.0.0.1$6>;regint=0${7:-};audio_codecs=PCMU;mediaenc=srtp-mand" >"$1/accounts"
}
# expect_blue DIR LOG CONSOLE_PORT WHO: the room system's snapshot of the next frame it decodes is
# the clinician's blue; sets RGB (its average).
expect_blue() {
  printf '/snapshot_recv %s\n' "$1/received.png" >"/dev/udp/127.0.0.1/$3"
  wait_log "$2" "png: wrote" 10 "$4 decoded no picture"
  RGB=$(ffmpeg -hide_banner -loglevel error -nostdin -i "$1/received.png" -vf scale=1:1 \
    -f rawvideo -pix_fmt rgb24 - | od -An -tu1 | xargs)
  awk -v c="$RGB" 'BEGIN { split(c, v, " "); exit !(v[1] < 60 && v[2] < 60 && v[3] > 180) }' ||
    fail "$4's picture should be the clinician's blue, its average is RGB $RGB"
}

dir="$E2E_WORK/roomsystem"
video_system "$dir" roomsystem 48470 48480 48490 ";transport=udp"
(cd "$dir" && timeout 40 baresip -f "$dir" -n 127.0.0.1 -t 25 \
  -e "/dial sip:$DIAL*$PIN@127.0.0.1:$SIP_PORT" >"$E2E_WORK/baresip.log" 2>&1) &
baresip_pid=$!
E2E_PIDS+=("$baresip_pid")
wait_log "$E2E_WORK/sip.log" '"event":"sip_call_answered"' 15 "the room system's call was not answered"
pass "the room system dialled in with its camera and was answered"
wait_all "$viewer"

# 2. The clinician sees the room system's test pattern (green in the middle, red above left),
# not the dark placeholder of a participant without video.
green="144 54 35" red="82 91 240"
some_frame clinician-view "320,180;100,100" "$green;$red" ||
  fail "the clinician never saw the room system's picture (last frame: $(probe_frame clinician-view -1 "320,180;100,100" | awk '$1 == "point" { printf "%s %s %s; ", $4, $5, $6 }'))"
pass "the clinician's view shows the room system's camera"

# 3. What the room system decoded: the clinician's blue (a snapshot of a frame it received).
expect_blue "$dir" "$E2E_WORK/baresip.log" 48490 "the room system"
pass "the room system receives and decodes the clinician's blue camera (average RGB $RGB)"

# 4. It hangs up: it leaves the room.
printf '/hangup\n' >/dev/udp/127.0.0.1/48490
for _ in $(seq 100); do
  [[ $(ctl participants "$ROOM" | grep -c participants/ || true) == 1 ]] && break
  sleep 0.1
done
[[ $(ctl participants "$ROOM" | grep -c participants/ || true) == 1 ]] ||
  fail "the room system is still in the room after hanging up"
pass "the room system hung up and left the room"
# 5. Chorus's RTCP (reports, keyframe requests) went to the room system's RTCP port (it does not
# multiplex: RTP port + 1), none to its RTP port.
! grep -q "drop incoming RTCP" "$E2E_WORK/baresip.log" ||
  fail "Chorus sent RTCP to the room system's RTP port ($(grep -c "drop incoming RTCP" "$E2E_WORK/baresip.log") packets)"
pass "Chorus's RTCP reached the room system's RTCP port"

# 6. Keyframes by SIP INFO (RFC 5168), with SIPp as a room system (H.264 camera and content):
# Chorus's answer takes the camera and declines the content, asks the room system for a keyframe
# by INFO once the call is up, and answers the room system's own keyframe request 200 (passed on
# to the node as a PLI would be); a re-INVITE holding the camera gets it mirrored, one moving the
# camera elsewhere gets 488.
timeout 30 sipp -nostdin -i 127.0.0.1 -p 48498 "127.0.0.1:$SIP_PORT" -s "$DIAL*$PIN" \
  -sf "$(dirname "$0")/sip/video_keyframes.xml" -m 1 -timeout 25s >"$E2E_WORK/sipp-video.txt" 2>&1 ||
  fail "the SIP INFO keyframe exchange failed ($(tail -c 600 "$E2E_WORK/sipp-video.txt" | tr "\n" " "))"
pass "keyframes by SIP INFO both ways; the camera taken, the content declined; the camera held and mirrored by re-INVITE, moved: 488"

# 7. Chorus calls a room system with video (DialOut --video): baresip answers automatically with
# its camera; the clinician sees its picture, and it decodes the clinician's blue.
called="$E2E_WORK/called"
video_system "$called" called 48474 48484 48491 ":48474" ";answermode=auto"
(cd "$called" && timeout 50 baresip -f "$called" -n 127.0.0.1 -t 40 >"$E2E_WORK/baresip-called.log" 2>&1) &
E2E_PIDS+=($!)
wait_log "$E2E_WORK/baresip-called.log" "called@127.0.0.1" 10 "the called room system did not start"
token=$(ctl invite create "$ROOM" guest | sed -E 's/.*token=//') || fail "invite the room system"
start_video_sender clinician-camera-2 blue 640x360 VP8 "$VIDEO_PORT_clinician" 48464 \
  "$SEND_KEY_clinician" 25
ctl dial-out "$ROOM" "sip:called@127.0.0.1:48474" --invite_token="$token" --video >/dev/null ||
  fail "dial-out with video refused"
wait_log "$E2E_WORK/all.log" '"event":"participant_joined".*"via":"dial_out"' 20 \
  "the called room system did not answer and join"
start_video_receiver clinician-view-2 48454 VP8 "$VIEW_KEY_clinician" 10
wait_all "$RECEIVER_PID"
some_frame clinician-view-2 "320,180;100,100" "$green;$red" ||
  fail "the clinician never saw the called room system's picture (last frame: $(probe_frame clinician-view-2 -1 "320,180;100,100" | awk '$1 == "point" { printf "%s %s %s; ", $4, $5, $6 }'))"
expect_blue "$called" "$E2E_WORK/baresip-called.log" 48491 "the called room system"
pass "Chorus called a room system with video: the clinician sees its camera, it sees the clinician's blue (RGB $RGB)"
