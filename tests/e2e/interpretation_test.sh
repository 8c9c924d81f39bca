#!/usr/bin/env bash
# Simultaneous interpretation, judged from outside with real ffmpeg clients over SRTP (issue:
# Interpreter bridging, first test): a floor speaker at 440 Hz, an interpreter speaking into the
# Arabic channel at 700 Hz. An Arabic listener hears 700 Hz at full level and 440 Hz about 15 dB
# lower; a floor listener hears 440 Hz and no 700 Hz; the interpreter hears 440 Hz and not itself.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"

start_chorusd interp all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=41700 --media_port_max=41749 --media_workers=1
ctl room create meeting --room_id=interp-room --languages=ar >/dev/null || fail "room create"
join() { room_join interp-room "$@"; }
join speaker host 43400
join interpreter interpreter 43404 --language_pair=da,ar
join arabic guest 43408
join floor guest 43412
ctl speak "$participant_interpreter" ar >/dev/null || fail "speak ar"
ctl listen "$participant_arabic" ar >/dev/null || fail "listen ar"
pass "floor speaker, interpreter into ar, an ar listener and a floor listener"

receivers=()
for who in interpreter arabic floor; do
  port_var=43404
  [[ $who == arabic ]] && port_var=43408
  [[ $who == floor ]] && port_var=43412
  key_var=answer_key_$who
  start_receiver "$who" "$port_var" "${!key_var}" opus 111 48000 2 4
  receivers+=("$RECEIVER_PID")
done
start_sender speaker-talk 440 "$send_port_speaker" 43420 "$key_speaker" "$OPUS_ENCODER" 7
start_sender interpreter-talk 700 "$send_port_interpreter" 43424 "$key_interpreter" \
  "$OPUS_ENCODER" 7
wait_all "${receivers[@]}"
for who in interpreter arabic floor; do analyze "$who" 440 700; done

arabic_700=$(tone_db arabic 700)
arabic_440=$(tone_db arabic 440)
duck=$(awk -v a="$arabic_700" -v b="$arabic_440" 'BEGIN { printf "%.1f", a - b }')
awk -v d="$duck" 'BEGIN { exit !(d >= 12 && d <= 19) }' ||
  fail "the ar listener should hear the floor about 15 dB under the channel: ${duck} dB ($(tr '\n' ' ' <"$E2E_WORK/arabic.report"))"
expect_db_above arabic 700 -30
pass "ar listener: the interpreter at full level ($arabic_700 dB), the floor ${duck} dB lower"
expect_db_above floor 440 -30
expect_db_below floor 700 "$(awk -v a="$(tone_db floor 440)" 'BEGIN { print a - 30 }')"
pass "floor listener: the floor, not the interpretation"
expect_db_above interpreter 440 -30
expect_db_below interpreter 700 "$(awk -v a="$(tone_db interpreter 440)" 'BEGIN { print a - 30 }')"
pass "interpreter: hears the floor, never itself"
