#!/usr/bin/env bash
# A telephone caller types the room's PIN on its keypad. baresip (an independent SIP client)
# dials only the room's number; the SIP role joins it as a keypad caller; the media node asks for
# the PIN with a spoken prompt in the room's language (German here) and takes the caller's RFC
# 4733 key presses (baresip sends them as typed on its console). Judged from outside:
#   1. while it types, the caller hears the spoken prompt (speech, in what baresip decoded) and
#      nothing of the room, and the room (an ffmpeg participant) does not hear it;
#   2. its right PIN and '#': it is in, hears the ffmpeg participant and is heard by it (FFT);
#      a caller sending its keys as SIP INFO instead (SIPp) gets in the same way;
#   3. another caller types three wrong PINs: Chorus ends its call (BYE), and those wrong PINs
#      count toward the same per-address lockout as the API's: two more wrong API joins from the
#      caller's address lock that address out, and the right PIN from it is then refused;
#   4. no PIN or typed key reaches a log.
# Ports: 48100-48199.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/sip_lib.sh"
command -v baresip >/dev/null || fail "baresip is not installed (scripts/install-deps.sh installs it)"

PIN=24680
SIP_PORT=48101
start_chorusd all all --dev --grpc_listen=127.0.0.1:48100 --http_listen=127.0.0.1:0 \
  --media_port_min=48110 --media_port_max=48149
room_line=$(ctl room create meeting --access=shared-pin --guest_pin=$PIN --lobby=false \
  --prompt_language=de) || fail "room create"
ROOM=$(awk '{ print $1 }' <<<"$room_line")
DIAL=$(grep -o 'dial_in_id=[0-9]*' <<<"$room_line" | cut -d= -f2)
start_sip_role --sip_listen="sip:127.0.0.1:$SIP_PORT" --sip_controller=127.0.0.1:48100

# keypad_caller NAME CONSOLE_PORT SIP_PORT RTP_PORT SECONDS: a baresip caller that dials the
# room's number alone, sends an 880 Hz sine, keeps what it decodes in NAME/dump-*-dec.wav, takes
# keys on its console (UDP CONSOLE_PORT: each byte a key, sent as RFC 4733 in a call) and hangs
# up after SECONDS. (baresip takes SIP_PORT and SIP_PORT + 1.)
keypad_caller() {
  local name=$1 console=$2 sip=$3 rtp=$4 seconds=$5
  local dir="$E2E_WORK/$name"
  baresip_config "$dir" "$name" "$sip" "$rtp" "module			cons.so" \
    "cons_listen		127.0.0.1:$console"
  echo "<sip:caller@127.0.0.1;transport=udp>;regint=0;audio_codecs=PCMU;mediaenc=srtp-mand" \
    >"$dir/accounts"
  timeout $((seconds + 10)) baresip -f "$dir" -n 127.0.0.1 -t "$seconds" \
    -e "/dial sip:$DIAL@127.0.0.1:$SIP_PORT" >"$E2E_WORK/baresip-$name.log" 2>&1 &
  E2E_PIDS+=($!)
  BARESIP_PID=$!
}
# type_keys CONSOLE_PORT KEYS: presses each key on the caller's console, 0.3 s apart.
type_keys() {
  local key i
  for ((i = 0; i < ${#2}; i++)); do
    key=${2:i:1}
    printf '%s' "$key" >"/dev/udp/127.0.0.1/$1"
    sleep 0.3
  done
}

# The room: an ffmpeg participant (440 Hz) joined through the API.
key=$(new_key)
answer=$(ctl --json join "$ROOM" --pin=$PIN --receive=127.0.0.1:48150 --key="$key" \
  --codec=opus/111) || fail "the ffmpeg participant's join"
start_receiver ffmpeg 48150 "$(field "$answer" key_base64)" opus 111 48000 2 26
receiver=$RECEIVER_PID
start_sender ffmpeg 440 "$(field "$answer" port)" 48152 "$key" "$OPUS_ENCODER" 28
started=$(date +%s.%N)

# 1 and 2. The caller dials the number alone, listens to the prompt, then types the PIN.
keypad_caller caller 48181 48160 48170 20
caller_pid=$BARESIP_PID
wait_log "$E2E_WORK/sip.log" '"event":"sip_call_answered"' 15 "the keypad call was not answered"
answered=$(date +%s.%N)
sleep 4  # the prompt, heard whole: what is judged (no key is pressed meanwhile)
[[ $(ctl participants "$ROOM" | grep -c participants/) == 1 ]] ||
  fail "a caller typing its PIN is in the roster"
typed=$(date +%s.%N)
type_keys 48181 "$PIN#"
wait_log "$E2E_WORK/all.log" '"event":"participant_joined".*"via":"keypad"' 10 \
  "the right PIN typed on the keypad did not join the caller"
joined=$(date +%s.%N)
pass "the caller typed the PIN on its keypad and joined ($(ctl participants "$ROOM" | grep -c participants/) in the roster)"
wait_all "$caller_pid" "$receiver"

dump=$(ls "$E2E_WORK"/caller/dump/*dec*.wav 2>/dev/null | head -1)
[[ -n $dump ]] || fail "baresip kept nothing of what it heard"
ffmpeg -hide_banner -loglevel error -nostdin -y -i "$dump" -ac 1 -ar 48000 -f s16le \
  "$E2E_WORK/caller.raw"
# The caller's recording starts when its call is answered: the prompt is its first seconds; the
# room comes once its PIN was checked.
analyze_window caller 0.5 3.5 440 880
peak=$(report_value caller-0.5 peak)
awk -v p="$peak" 'BEGIN { exit !(p > 0.05) }' ||
  fail "the caller heard no prompt before typing (peak $peak)"
# From its first key the prompt stops; until its PIN is checked (after its last key, 1.8 s
# later) it hears silence, not the room's 440 Hz.
quiet_from=$(awk -v t="$typed" -v a="$answered" 'BEGIN { printf "%.1f", t - a + 0.6 }')
quiet_to=$(awk -v f="$quiet_from" 'BEGIN { printf "%.1f", f + 1 }')
analyze_window caller "$quiet_from" "$quiet_to" 440 880
expect_db_below "caller-$quiet_from" 440 -50
pass "before typing, the caller hears the spoken prompt (peak $peak); while typing, silence, not the room ($(tone_db "caller-$quiet_from" 440) dB at 440 Hz)"
in_call=$(awk -v j="$joined" -v a="$answered" 'BEGIN { printf "%.1f", j - a + 2 }')
end=$(awk -v s="$in_call" 'BEGIN { printf "%.1f", s + 6 }')
analyze_window caller "$in_call" "$end" 440 880
expect_db_above "caller-$in_call" 440 -40
expect_db_below "caller-$in_call" 880 -50
pass "once in, the caller hears the ffmpeg participant ($(tone_db "caller-$in_call" 440) dB at 440 Hz), not itself"
# The ffmpeg participant: not the caller while it typed, the caller once it was in.
typing_from=$(awk -v a="$answered" -v s="$started" 'BEGIN { printf "%.1f", a - s + 0.5 }')
typing_to=$(awk -v f="$typing_from" 'BEGIN { printf "%.1f", f + 3 }')
analyze_window ffmpeg "$typing_from" "$typing_to" 440 880
expect_db_below "ffmpeg-$typing_from" 880 -50
heard_from=$(awk -v j="$joined" -v s="$started" 'BEGIN { printf "%.1f", j - s + 2 }')
heard_to=$(awk -v f="$heard_from" 'BEGIN { printf "%.1f", f + 5 }')
analyze_window ffmpeg "$heard_from" "$heard_to" 440 880
expect_db_above "ffmpeg-$heard_from" 880 -40
pass "the room did not hear the caller while it typed ($(tone_db "ffmpeg-$typing_from" 880) dB), and hears it once in ($(tone_db "ffmpeg-$heard_from" 880) dB at 880 Hz)"

# 2b. A caller that sends its keys as SIP INFO (SIPp: no telephone-event offered): its PIN and
# '#' make it a participant too; its BYE makes it leave.
timeout 30 sipp -nostdin -i 127.0.0.1 -p 48190 "127.0.0.1:$SIP_PORT" -s "$DIAL" \
  -sf "$(dirname "$0")/sip/keypad_info.xml" -m 1 -timeout 25s >"$E2E_WORK/sipp-info.txt" 2>&1 ||
  fail "the SIP INFO caller's call failed ($(grep -i -m3 -e fail -e unexpected "$E2E_WORK/sipp-info.txt" | tr '\n' ' '))"
(($(grep -c '"event":"participant_joined".*"via":"keypad"' "$E2E_WORK/all.log") == 2)) ||
  fail "a PIN typed as SIP INFO did not join the caller"
pass "a caller sending its keys as SIP INFO joined with the PIN it typed"

# 3. Three wrong PINs: Chorus hangs up.
keypad_caller guesser 48183 48164 48174 40
guesser_pid=$BARESIP_PID
answered_before=2
for _ in $(seq 150); do
  (($(grep -c '"event":"sip_call_answered"' "$E2E_WORK/sip.log") > answered_before)) && break
  sleep 0.1
done
sleep 1
for wrong in 917364 582039 740251; do
  type_keys 48183 "$wrong#"
  sleep 1.5  # the PIN is checked at the controller's next look (every second)
done
wait_log "$E2E_WORK/baresip-guesser.log" "session closed" 15 \
  "the caller's call did not end after three wrong PINs ($(tail -2 "$E2E_WORK/baresip-guesser.log" | tr '\n' ' '))"
grep -q '"event":"keypad_caller_ended".*"reason":"REJECT_REASON_WRONG_PIN"' "$E2E_WORK/all.log" ||
  fail "no keypad_caller_ended line for three wrong PINs"
wait_all "$guesser_pid"
pass "three wrong PINs on the keypad: Chorus ended the call (BYE)"
# The same lockout as the API's: the caller's address has 3 wrong PINs; 2 more lock it out.
for wrong in 5555 6666; do
  ctl join "$ROOM" --pin=$wrong --client_address=127.0.0.1 --receive=127.0.0.1:48154 \
    --key="$(new_key)" >/dev/null 2>&1 && fail "a wrong PIN was taken"
done
status=0
ctl join "$ROOM" --pin=$PIN --client_address=127.0.0.1 --receive=127.0.0.1:48154 \
  --key="$(new_key)" >"$E2E_WORK/locked.txt" 2>&1 || status=$?
((status != 0)) && grep -q "RESOURCE_EXHAUSTED" "$E2E_WORK/locked.txt" ||
  fail "the keypad's wrong PINs did not count toward the lockout: $(cat "$E2E_WORK/locked.txt")"
pass "the keypad's wrong PINs count toward the lockout: 2 more from the address lock it out"

# 4. No PIN, wrong PIN or typed key in any log.
for log in "$E2E_WORK/all.log" "$E2E_WORK/sip.log" "$E2E_WORK/sip.out"; do
  grep -q -e "$PIN" -e 917364 -e 582039 -e 740251 -e "$DIAL" "$log" &&
    fail "$(basename "$log") holds a PIN, a typed key sequence or the dialled number"
done
pass "no PIN, typed keys or dialled number in the logs"
