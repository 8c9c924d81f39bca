#!/usr/bin/env bash
# Restart without loss (issue: the controller keeps its word): a consultation runs between a
# clinician and a patient, real ffmpeg clients sending two tones over SRTP through a separate
# `chorusd media-node`, while `chorusd controller` keeps its rooms in a SQLite state file. The
# controller is killed with SIGKILL in the middle of the call:
#  1. the mix goes on while no controller runs (each recording keeps the other's tone, judged by
#     FFT before, during and after the kill);
#  2. a new controller on the same state file and media node takes the call over: the room, both
#     participants (the patient still admitted) and the unused invite are there; a session that
#     no room owns, left on the node meanwhile, is deleted;
#  3. the unused invite joins, and muting the patient through the API takes its tone out of the
#     clinician's recording, while the patient still hears the clinician.
# Loopback only; TCP and UDP ports 47200-47299.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"

state="$E2E_WORK/state.db"
node_addr=127.0.0.1:47200
start_chorusd node media-node --dev --grpc_listen="$node_addr" --http_listen=127.0.0.1:47201 \
  --media_port_min=47210 --media_port_max=47239 --media_workers=1 --node_id=node-r
start_controller() {
  start_chorusd "$1" controller --dev --grpc_listen=127.0.0.1:47202 \
    --http_listen=127.0.0.1:47203 --media_nodes="$node_addr" --state_file="$state"
}
start_controller first
first_pid=$CHORUSD_PID
on_node() { "$CHORUSCTL" --insecure --address="$node_addr" node "$@"; }

# until_true SECONDS WHAT COMMAND...: runs COMMAND until it succeeds, for at most SECONDS.
until_true() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || fail "$what (waited ${seconds}s)"
    sleep 0.2
  done
}

# The clients run until stopped (the helpers of media_lib.sh stop after at most 40 s; this call
# is longer, a controller's restart included).
receiver() {
  local name=$1 port=$2 key=$3
  cat >"$E2E_WORK/$name.sdp" <<SDP
v=0
o=- 0 0 IN IP4 127.0.0.1
s=chorus-e2e
c=IN IP4 127.0.0.1
t=0 0
m=audio $port RTP/SAVP 111
a=rtpmap:111 opus/48000/2
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:$key
SDP
  timeout 170 ffmpeg -hide_banner -loglevel error -nostdin -y \
    -protocol_whitelist file,udp,rtp,srtp -i "$E2E_WORK/$name.sdp" \
    -t 160 -ac 1 -ar 48000 -f s16le "$E2E_WORK/$name.raw" 2>"$E2E_WORK/$name.ffmpeg.txt" &
  E2E_PIDS+=($!)
  RECEIVER_PID=$!
}
sender() {
  local name=$1 hz=$2 target=$3 local_port=$4 key=$5
  # shellcheck disable=SC2086
  timeout 170 ffmpeg -hide_banner -loglevel error -nostdin -re \
    -f lavfi -i "sine=frequency=$hz:sample_rate=48000:duration=160" $OPUS_ENCODER \
    -f rtp -srtp_out_suite AES_CM_128_HMAC_SHA1_80 -srtp_out_params "$key" \
    "srtp://127.0.0.1:$target?rtcpport=$target&localrtpport=$local_port&localrtcpport=$((local_port + 1))" \
    >/dev/null 2>"$E2E_WORK/$name.ffmpeg.txt" &
  E2E_PIDS+=($!)
  SENDER_PID=$!
}
# seconds_of NAME: how many seconds of audio NAME's recording holds now (48 kHz mono s16le).
seconds_of() {
  local bytes
  bytes=$(stat -c %s "$E2E_WORK/$1.raw" 2>/dev/null || echo 0)
  awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 96000 }'
}
# has_seconds NAME MIN: NAME's recording holds at least MIN seconds.
has_seconds() { awk -v s="$(seconds_of "$1")" -v m="$2" 'BEGIN { exit !(s >= m) }'; }
# grown NAME SINCE MORE: NAME's recording holds at least MORE seconds after the mark SINCE.
grown() { has_seconds "$1" "$(awk -v s="$2" -v m="$3" 'BEGIN { print s + m }')"; }
plus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a + b }'; }
# both_grown CLINICIAN_MARK PATIENT_MARK MORE: both recordings grew MORE seconds since the marks.
both_grown() { grown clinician "$1" "$3" && grown patient "$2" "$3"; }

# ----- The consultation: a clinician, an admitted patient, an unused invite -----
ctl room create consultation --room_id=consult-r >/dev/null || fail "room create"
token() { field "$(ctl --json invite create consult-r "$@")" token; }
clinician_token=$(token host)
patient_token=$(token guest)
spare_token=$(token guest --consent=consent-form-1)
[[ -n $clinician_token && -n $patient_token && -n $spare_token ]] || fail "no invite tokens"
clinician_key=$(new_key)
patient_key=$(new_key)
join_clinician() {
  ctl --json join consult-r --invite_token="$clinician_token" --receive=127.0.0.1:47260 \
    --key="$clinician_key" >"$E2E_WORK/clinician.json" 2>"$E2E_WORK/clinician-join.log"
}
# The controller asks the node for its load as it starts; a join may still find it not ready.
until_true 15 "the clinician's join (clinician-join.log)" join_clinician
clinician=$(cat "$E2E_WORK/clinician.json")
patient=$(ctl --json join consult-r --invite_token="$patient_token" --receive=127.0.0.1:47264 \
  --key="$patient_key") || fail "the patient's join"
patient_name=$(field "$patient" name)
grep -q PARTICIPANT_STATE_WAITING <<<"$patient" || fail "the patient should wait: $patient"
ctl admit "$patient_name" >/dev/null || fail "admit the patient"

receiver clinician 47260 "$(field "$clinician" key_base64)"
clinician_receiver=$RECEIVER_PID
receiver patient 47264 "$(field "$patient" key_base64)"
patient_receiver=$RECEIVER_PID
sender clinician-talk 440 "$(field "$clinician" port)" 47262 "$clinician_key"
clinician_sender=$SENDER_PID
sender patient-talk 700 "$(field "$patient" port)" 47266 "$patient_key"
patient_sender=$SENDER_PID
until_true 40 "5 s of the call recorded on both sides" both_grown 0 0 5
pass "consultation running: clinician and admitted patient talking through node-r"

# ----- 1. kill -9 of the controller, in the middle of the call -----
kill_c=$(seconds_of clinician)
kill_p=$(seconds_of patient)
kill -KILL "$first_pid"
wait_exit "$first_pid" 10
on_node ListSessions >"$E2E_WORK/sessions-down.json" || fail "ListSessions on the node"
grep -q '"sessions/consult-r"' "$E2E_WORK/sessions-down.json" ||
  fail "the call's session is gone from the node: $(cat "$E2E_WORK/sessions-down.json")"
# A session nobody owns (a controller that died while creating a room would leave one).
on_node CreateSession '{"session_id": "orphan-r"}' >/dev/null || fail "CreateSession orphan-r"
until_true 40 "4 s of the call recorded without a controller" both_grown "$kill_c" "$kill_p" 4
down_c=$(seconds_of clinician)
down_p=$(seconds_of patient)
pass "controller killed (SIGKILL); the media node kept the call: $(plus "$down_c" "-$kill_c") s" \
  "recorded since"

# ----- 2. a new controller on the same state file and media node -----
start_controller second
grep -q '"event":"media_node_reconciled".*"calls_restored":1' "$E2E_WORK/second.log" ||
  fail "the new controller should have taken the call over"
grep -q '"event":"orphan_session_deleted"' "$E2E_WORK/second.log" ||
  fail "the session no room owns should have been deleted"
if grep -q 'orphan-r' "$E2E_WORK/second.log"; then fail "the log names the orphan session"; fi
if grep -q '"event":"room_media_lost"' "$E2E_WORK/second.log"; then
  fail "the new controller lost the call"
fi
room=$(ctl --json room get consult-r) || fail "the room is gone after the restart"
grep -q '"ROOM_STATE_ACTIVE"' <<<"$room" || fail "the room should be active: $room"
grep -q '"participant_count": 2' <<<"$room" || fail "two participants expected: $room"
grep -q "\"media_node\": \"$node_addr\"" <<<"$room" || fail "the room should be on the node: $room"
roster=$(ctl --json participants consult-r) || fail "participants"
grep -q "$(field "$clinician" name)" <<<"$roster" || fail "the clinician is missing: $roster"
grep -q "$patient_name" <<<"$roster" || fail "the patient is missing: $roster"
[[ $(grep -c PARTICIPANT_STATE_ADMITTED <<<"$roster") == 2 ]] ||
  fail "both should be admitted: $roster"
spare=$(ctl --json join consult-r --invite_token="$spare_token" --receive=127.0.0.1:47270 \
  --key="$(new_key)") || fail "the unused invite does not join after the restart"
grep -q PARTICIPANT_STATE_WAITING <<<"$spare" || fail "the third should wait: $spare"
on_node ListSessions >"$E2E_WORK/sessions-up.json" || fail "ListSessions on the node"
if grep -q 'orphan-r' "$E2E_WORK/sessions-up.json"; then
  fail "the orphan session is still there"
fi
[[ $(grep -c '"name": "sessions/consult-r/endpoints/' "$E2E_WORK/sessions-up.json") == 3 ]] ||
  fail "three endpoints expected in the call: $(cat "$E2E_WORK/sessions-up.json")"
up_c=$(seconds_of clinician)
up_p=$(seconds_of patient)
pass "new controller: the room, both participants and the unused invite (it joined, waiting);" \
  "the orphan session was deleted"

# ----- 3. muting the patient through the API -----
until_true 40 "4 s of the call recorded under the new controller" both_grown "$up_c" "$up_p" 4
mute_c=$(seconds_of clinician)
mute_p=$(seconds_of patient)
ctl mute "$patient_name" >/dev/null || fail "mute the patient"
until_true 40 "5 s of the call recorded after the mute" both_grown "$mute_c" "$mute_p" 5
end_c=$(seconds_of clinician)
end_p=$(seconds_of patient)
kill -TERM "$clinician_receiver" "$patient_receiver" "$clinician_sender" "$patient_sender" \
  2>/dev/null || true
wait_all "$clinician_receiver" "$patient_receiver"

# Each window leaves 0.5 s at its edges (output buffering, the moment of each step).
judge() {
  local name=$1 hz=$2 from=$3 to=$4 above=$5 what=$6
  analyze_window "$name" "$(plus "$from" 0.5)" "$(plus "$to" -0.5)" 440 700
  if [[ $above == above ]]; then
    expect_db_above "$name-$(plus "$from" 0.5)" "$hz" -30
  else
    expect_db_below "$name-$(plus "$from" 0.5)" "$hz" -50
  fi
  echo "  $name, $what: $hz Hz at $(tone_db "$name-$(plus "$from" 0.5)" "$hz") dB"
}
judge clinician 700 0.5 "$kill_c" above "before the kill"
judge clinician 700 "$kill_c" "$down_c" above "no controller"
judge clinician 700 "$up_c" "$mute_c" above "new controller"
judge patient 440 0.5 "$kill_p" above "before the kill"
judge patient 440 "$kill_p" "$down_p" above "no controller"
judge patient 440 "$up_p" "$mute_p" above "new controller"
pass "the mix went on across the kill: each hears the other before, during and after"
judge clinician 700 "$(plus "$mute_c" 1)" "$end_c" below "patient muted"
judge patient 440 "$(plus "$mute_p" 1)" "$end_p" above "patient muted"
pass "muted through the new controller: the clinician no longer hears the patient, who still" \
  "hears the clinician"

for log in first second node; do
  if grep -q -e "$clinician_token" -e "$patient_token" -e "$spare_token" "$E2E_WORK/$log.log"; then
    fail "an invite token appears in the $log log"
  fi
done
pass "no token in any log"
