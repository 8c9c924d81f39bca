#!/usr/bin/env bash
# Chorus calls an interpreter by telephone (DialOut). The platform invites an interpreter
# (German - Arabic) and has Chorus call a SIP address with that invite; the SIP role places the
# call with Chorus's SDP offer (SRTP), and the answered call joins as the invite's participant,
# speaking into the Arabic channel. Judged from outside:
#   1. a callee that is busy (SIPp answers 486): a BUSY event, and the invite is usable again;
#   2. a callee whose phone rings (SIPp, 180): RINGING, then the platform removes the pending
#      participant: CANCELLED, and SIPp receives Chorus's CANCEL; another rings past the ring
#      timeout: NO_ANSWER, cancelled by Chorus;
#   3. baresip (an independent SIP client) answering automatically: CALLING, ANSWERED, then
#      participant_joined as an interpreter on air in the Arabic channel; an Arabic listener
#      (ffmpeg) hears it (FFT: its 880 Hz) over the floor, the floor (ffmpeg, 440 Hz) does not,
#      and the interpreter hears the floor;
#   4. removed by the platform, the interpreter's call ends (BYE);
#   5. the SIP address is in no log and no event.
# Ports: 48300-48399.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/sip_lib.sh"
command -v baresip >/dev/null || fail "baresip is not installed (scripts/install-deps.sh installs it)"
command -v sipp >/dev/null || fail "sipp is not installed (scripts/install-deps.sh installs it)"

SIP_PORT=48301
start_chorusd all all --dev --grpc_listen=127.0.0.1:48300 --http_listen=127.0.0.1:0 \
  --media_port_min=48310 --media_port_max=48349
ctl room create meeting --room_id=dialout --languages=ar --lobby=false >/dev/null ||
  fail "room create"
printf 'chorus-trunk:s3cret-Trunk\n' >"$E2E_WORK/trunk-credentials"
start_sip_role --sip_listen="sip:127.0.0.1:$SIP_PORT" --sip_controller=127.0.0.1:48300 \
  --sip_ring_timeout=6 --sip_trunk_credentials_file="$E2E_WORK/trunk-credentials"
ctl --json watch dialout >"$E2E_WORK/events.txt" 2>"$E2E_WORK/watch.err" &
E2E_PIDS+=($!)

# state_count STATE: dial_out_progress events of that state so far.
state_count() { grep -c "\"state\": *\"DIAL_OUT_STATE_$1\"" "$E2E_WORK/events.txt" || true; }

# sipp_callee NAME PORT SCENARIO: a SIPp callee (a scenario of tests/e2e/sip) for one call on
# UDP 127.0.0.1:PORT, its output in $E2E_WORK/sipp-NAME.txt; waits until it listens. Sets SIPP_PID.
sipp_callee() {
  timeout 40 sipp -nostdin -i 127.0.0.1 -p "$2" -sf "$(dirname "$0")/sip/$3" -m 1 -timeout 30s \
    >"$E2E_WORK/sipp-$1.txt" 2>&1 &
  SIPP_PID=$!
  E2E_PIDS+=("$SIPP_PID")
  for _ in $(seq 50); do
    [[ -n $(ss -Hlun "sport = :$2") ]] && return 0
    sleep 0.1
  done
  fail "SIPp ($1) did not listen on port $2"
}

token=$(ctl invite create dialout interpreter --language_pair=de,ar | sed -E 's/.*token=//') ||
  fail "invite the interpreter"
dial() { ctl dial-out dialout "$1" --invite_token="$token" --speak_language=ar; }

# 1. Busy.
sipp_callee busy 48380 callee_busy.xml
busy=$SIPP_PID
dial "sip:busy@127.0.0.1:48380" >/dev/null || fail "dial-out to the busy callee refused"
wait_log "$E2E_WORK/events.txt" DIAL_OUT_STATE_BUSY 15 "no BUSY event for a callee answering 486"
wait "$busy" || fail "SIPp's busy callee saw something else ($(grep -i -m3 -e fail -e unexpected "$E2E_WORK/sipp-busy.txt" | tr '\n' ' '))"
(($(state_count CALLING) == 1)) || fail "expected one CALLING event before BUSY"
pass "a busy callee (486): CALLING then BUSY"

# 2. Ringing: cancelled by the platform, then unanswered past the ring timeout.
sipp_callee ring 48382 callee_rings.xml
ring=$SIPP_PID
pending=$(dial "sip:ring@127.0.0.1:48382" | awk '{ print $1 }') ||
  fail "dial-out with the invite after BUSY refused (the invite should be usable again)"
pass "the invite is usable again after BUSY"
wait_log "$E2E_WORK/events.txt" DIAL_OUT_STATE_RINGING 15 "no RINGING event for a callee sending 180"
[[ $(ctl participants dialout | grep -c participants/ || true) == 0 ]] ||
  fail "a callee not yet answered is in the roster"
ctl remove "$pending" >/dev/null || fail "removing the pending callee"
wait_log "$E2E_WORK/events.txt" DIAL_OUT_STATE_CANCELLED 10 "no CANCELLED event after removal"
wait "$ring" || fail "SIPp's ringing callee got no CANCEL ($(grep -i -m3 -e fail -e unexpected "$E2E_WORK/sipp-ring.txt" | tr '\n' ' '))"
pass "a ringing callee: RINGING, not in the roster; removed: CANCELLED, and its INVITE cancelled"

sipp_callee noanswer 48384 callee_rings.xml
ring=$SIPP_PID
dial "sip:late@127.0.0.1:48384" >/dev/null || fail "dial-out to the unanswered callee refused"
wait_log "$E2E_WORK/events.txt" DIAL_OUT_STATE_NO_ANSWER 20 \
  "no NO_ANSWER event for a callee ringing past the ring timeout"
wait "$ring" || fail "SIPp's unanswered callee got no CANCEL ($(grep -i -m3 -e fail -e unexpected "$E2E_WORK/sipp-noanswer.txt" | tr '\n' ' '))"
pass "a callee ringing past the ring timeout: NO_ANSWER, cancelled by Chorus"

# 2b. A trunk that asks for digest authentication: Chorus answers the challenge with the
# configured credentials (SIPp verifies them; the callee is then busy, else it would be refused).
sipp_callee auth 48386 callee_auth.xml
auth=$SIPP_PID
busy_before=$(state_count BUSY)
dial "sip:auth@127.0.0.1:48386" >/dev/null || fail "dial-out through the authenticating trunk refused"
for _ in $(seq 150); do
  (($(state_count BUSY) > busy_before || $(state_count REJECTED) > 0)) && break
  sleep 0.1
done
(($(state_count BUSY) > busy_before)) ||
  fail "the trunk's digest challenge was not answered with the right credentials ($(state_count REJECTED) REJECTED)"
wait "$auth" || fail "SIPp's authenticating trunk saw something else ($(grep -i -m3 -e fail -e unexpected "$E2E_WORK/sipp-auth.txt" | tr '\n' ' '))"
! grep -q "s3cret" "$E2E_WORK/sip.log" || fail "the trunk's password reached the SIP role's log"
pass "a trunk asking for digest authentication: answered with the credentials (verified), then BUSY"

# 3. The interpreter answers. The floor (440 Hz) and an Arabic listener, both ffmpeg.
room_join dialout speaker host 48350
room_join dialout arabic guest 48354
ctl listen "$participant_arabic" ar >/dev/null || fail "listen ar"
dir="$E2E_WORK/interpreter"
baresip_config "$dir" interpreter 48360 48370
echo "<sip:interpreter@127.0.0.1:48360>;regint=0;answermode=auto;audio_codecs=PCMU;mediaenc=srtp-mand" \
  >"$dir/accounts"
timeout 60 baresip -f "$dir" -n 127.0.0.1 -t 45 >"$E2E_WORK/baresip.log" 2>&1 &
baresip_pid=$!
E2E_PIDS+=("$baresip_pid")
wait_log "$E2E_WORK/baresip.log" "interpreter@127.0.0.1" 10 "baresip did not start"
calling_before=$(state_count CALLING)
interpreter=$(dial "sip:interpreter@127.0.0.1:48360" | awk '{ print $1 }') ||
  fail "dial-out to the interpreter refused"
wait_log "$E2E_WORK/all.log" '"event":"participant_joined".*"via":"dial_out"' 20 \
  "the interpreter's call was not answered and joined ($(tail -3 "$E2E_WORK/baresip.log" | tr '\n' ' '))"
(($(state_count CALLING) == calling_before + 1 && $(state_count ANSWERED) == 1)) ||
  fail "expected CALLING then ANSWERED for the interpreter"
roster=$(ctl participants dialout)
grep -q "$interpreter.*interpreter" <<<"$roster" || fail "the interpreter is not in the roster: $roster"
grep -q "$interpreter.*speaks=ar on-air" <<<"$roster" ||
  fail "the interpreter does not speak into ar on air: $roster"
pass "the interpreter answered: CALLING, ANSWERED, joined as an interpreter on air in ar"

start_receiver arabic 48354 "$answer_key_arabic" opus 111 48000 2 7
arabic_rx=$RECEIVER_PID
start_receiver speaker 48350 "$answer_key_speaker" opus 111 48000 2 7
speaker_rx=$RECEIVER_PID
start_sender speaker-talk 440 "$send_port_speaker" 48390 "$key_speaker" "$OPUS_ENCODER" 9
wait_all "$arabic_rx" "$speaker_rx"
analyze arabic 440 880
analyze speaker 440 880
expect_db_above arabic 880 -30
expect_db_below speaker 880 -50
pass "the Arabic listener hears the interpreter ($(tone_db arabic 880) dB at 880 Hz), the floor does not ($(tone_db speaker 880) dB)"

# 4. Removed: its call ends with BYE.
ctl remove "$interpreter" >/dev/null || fail "removing the interpreter"
wait_log "$E2E_WORK/baresip.log" "session closed" 15 "the interpreter's call did not end on removal"
dump=$(ls "$dir"/dump/*dec*.wav 2>/dev/null | head -1)
[[ -n $dump ]] || fail "baresip kept nothing of what it heard"
ffmpeg -hide_banner -loglevel error -nostdin -y -i "$dump" -ac 1 -ar 48000 -f s16le \
  "$E2E_WORK/interpreter.raw"
heard_from=2  # its recording starts with the answered call; the floor talks from then on
analyze_window interpreter "$heard_from" 6 440 880
expect_db_above "interpreter-$heard_from" 440 -40
pass "the interpreter heard the floor ($(tone_db "interpreter-$heard_from" 440) dB at 440 Hz); removed, its call ended (BYE)"

# 5. Privacy: no SIP address anywhere it could leak.
for file in "$E2E_WORK"/all.log "$E2E_WORK"/sip.log "$E2E_WORK"/events.txt; do
  if grep -q -e "127.0.0.1:4836" -e "127.0.0.1:4838" -e "sip:interpreter" -e "sip:busy" \
    -e "sip:ring" "$file"; then
    fail "a SIP address reached $(basename "$file")"
  fi
done
pass "no SIP address in the logs or the events"
