#!/usr/bin/env bash
# A room system presents over SIP without BFCP (issue: SIP, a room system that starts content).
# SIPp is the room system: it dials a consultation's number with its PIN, with audio and a
# content line (a=content:slides) that Chorus declines while it does not present; then it starts
# presenting by re-INVITE (the content line sent only: sendonly). An ffmpeg clinician with a blue
# camera is in the room, and ffmpeg sends the room system's slides (white, VP8, SRTP with the key
# of its content line) to the port Chorus answered. Judged from outside:
#   1. Chorus's answers, as SIPp checks them: content declined (port 0) at the call's start;
#      taken, received only, with a port and key of Chorus's own, when it presents; declined
#      again when it stops (port 0);
#   2. while it presents, the clinician's view (what ffmpeg decoded) is the presentation layout:
#      the slides large on top;
#   3. once it stopped, the slides are gone from the clinician's view, and the call goes on
#      until the room system hangs up.
# Ports: 48600-48699.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/sip_lib.sh"
: "${FRAME_PROBE:?set FRAME_PROBE to the chorus-frame-probe binary}"
command -v sipp >/dev/null || fail "sipp is not installed (scripts/install-deps.sh installs it)"

PIN=24680
SIP_PORT=48601
start_chorusd all all --dev --grpc_listen=127.0.0.1:48600 --http_listen=127.0.0.1:0 \
  --media_port_min=48610 --media_port_max=48649
room_line=$(ctl room create consultation --access=shared-pin --guest_pin=$PIN --lobby=false) ||
  fail "room create"
DIAL=$(grep -o 'dial_in_id=[0-9]*' <<<"$room_line" | cut -d= -f2)
start_sip_role --sip_listen="sip:127.0.0.1:$SIP_PORT" --sip_controller=127.0.0.1:48600

ROOM=$(awk '{ print $1 }' <<<"$room_line")
join_with_video "$ROOM" "$PIN" clinician VP8 48650 48654
start_video_sender clinician-camera blue 640x360 VP8 "$VIDEO_PORT_clinician" 48660 \
  "$SEND_KEY_clinician" 35

# The room system: SIPp, with the key it sends its slides with.
slides_key=$(new_key)
steps="$E2E_WORK/steps"
mkdir -p "$steps"
timeout 150 sipp -nostdin -i 127.0.0.1 -p 48698 "127.0.0.1:$SIP_PORT" -s "$DIAL*$PIN" \
  -sf "$(dirname "$0")/sip/content.xml" -m 1 -timeout 140s -key dir "$steps" \
  -key audio_port 48690 -key content_port 48692 -key content_key "$slides_key" \
  -trace_err -error_file "$E2E_WORK/sipp-errors.txt" >"$E2E_WORK/sipp.txt" 2>&1 &
sipp_pid=$!
E2E_PIDS+=("$sipp_pid")
# wait_file FILE SECONDS WHAT: waits until the room system has reached that step.
wait_file() {
  for _ in $(seq $(($2 * 10))); do
    [[ -e $1 ]] && return 0
    kill -0 "$sipp_pid" 2>/dev/null ||
      fail "$3 (SIPp ended: $(tail -c 800 "$E2E_WORK/sipp.txt" "$E2E_WORK/sipp-errors.txt" 2>/dev/null | tr "\n" " "))"
    sleep 0.1
  done
  fail "$3"
}
# Both talk throughout (a call without media would end at the media timeout): the room system's
# voice goes, with the key of its audio line, to the port Chorus answered.
wait_file "$steps/audio_port" 30 "the room system's call was not answered"
start_sender clinician-voice 880 "$AUDIO_PORT_clinician" 48680 "$AUDIO_KEY_clinician" \
  "$OPUS_ENCODER" 38
start_sender roomsystem-voice 440 "$(cat "$steps/audio_port")" 48686 \
  WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz "$PCMU_ENCODER" 38
wait_file "$steps/content_port" 30 "the room system's presentation was not answered"
chorus_port=$(cat "$steps/content_port")
[[ $chorus_port =~ ^[0-9]+$ ]] || fail "no content port in Chorus's answer"
pass "the room system presents by re-INVITE: its content taken, received only, on port $chorus_port"

# 2. While it presents, the clinician's view is the presentation layout: the slides (white)
# large on top. The room system's slides flow from now; the view is judged over 12 s (SIPp
# presents for 25 s).
start_video_sender roomsystem-slides white 1280x720 VP8 "$chorus_port" 48694 "$slides_key" 30
start_video_receiver clinician-presenting 48654 VP8 "$VIEW_KEY_clinician" 12
wait_all "$RECEIVER_PID"
white="235 128 128"
some_frame clinician-presenting "320,135" "$white" ||
  fail "the clinician never saw the room system's slides large (last frame: $(probe_frame clinician-presenting -1 "320,135" | awk '$1 == "point" { printf "%s %s %s", $4, $5, $6 }'))"
pass "the clinician's view shows the room system's slides large"

# 3. It stops presenting (the content line with port 0): the slides leave the clinician's view,
# though ffmpeg goes on sending them to the port that was Chorus's.
wait_file "$steps/stop_answered" 40 "the room system's end of presentation was not answered"
start_video_receiver clinician-after 48654 VP8 "$VIEW_KEY_clinician" 8
wait_all "$RECEIVER_PID"
seen=$(probe_frame clinician-after -1 "320,135" | awk '$1 == "point" { print $4, $5, $6 }')
[[ -n $seen ]] || fail "the clinician's view stopped after the presentation ended"
! some_frame clinician-after "320,135" "$white" ||
  fail "the room system's slides are still shown after it stopped presenting"
pass "the room system stopped presenting: no frame of the clinician's view shows the slides (last frame Y U V $seen)"

wait "$sipp_pid" ||
  fail "the room system's call failed ($(tail -c 800 "$E2E_WORK/sipp.txt" "$E2E_WORK/sipp-errors.txt" 2>/dev/null | tr "\n" " "))"
pass "Chorus's answers were as expected at every step (SIPp), and the room system hung up"
