#!/usr/bin/env bash
# Booths, relay, the floor coming back and switching direction, judged from outside with real
# ffmpeg clients over SRTP (issue: Interpreter bridging). One room, floor speaker at 440 Hz; two
# Danish<->Arabic interpreters into Arabic (a booth: A at 700 Hz on air, B at 550 Hz on standby);
# a relay interpreter listening to Arabic and speaking Turkish at 600 Hz for 5 s; listeners of
# Arabic, Turkish and the floor. Half-way, B takes over the booth in one call; later A turns to
# interpreting into the floor.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"

start_chorusd booth all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=45100 --media_port_max=45149 --media_workers=1
ctl room create meeting --room_id=booth-room --languages=ar,tr >/dev/null || fail "room create"
join() { room_join booth-room "$@"; }
join speaker host 45200
join a interpreter 45204 --language_pair=da,ar
join b interpreter 45208 --language_pair=da,ar
join relay interpreter 45212 --language_pair=ar,tr
join arabic guest 45216
join turkish guest 45220
join floor guest 45224
grep -q on-air <<<"$(ctl speak "$participant_a" ar)" || fail "A should be on air"
grep -q standby <<<"$(ctl speak "$participant_b" ar)" || fail "B should be on standby"
ctl speak "$participant_relay" tr >/dev/null || fail "relay speak tr"
ctl listen "$participant_relay" ar >/dev/null || fail "relay listen ar"
ctl listen "$participant_arabic" ar >/dev/null || fail "listen ar"
ctl listen "$participant_turkish" tr >/dev/null || fail "listen tr"
pass "booth A (on air) + B (standby) into ar, relay ar->tr, listeners of ar, tr and the floor"

receivers=()
for who in b relay arabic turkish floor; do
  case $who in
    b) port=45208 ;;
    relay) port=45212 ;;
    arabic) port=45216 ;;
    turkish) port=45220 ;;
    floor) port=45224 ;;
  esac
  key_var=answer_key_$who
  start_receiver "$who" "$port" "${!key_var}" opus 111 48000 2 12
  receivers+=("$RECEIVER_PID")
done
start_sender speaker-talk 440 "$send_port_speaker" 45230 "$key_speaker" "$OPUS_ENCODER" 13
start_sender a-talk 700 "$send_port_a" 45234 "$key_a" "$OPUS_ENCODER" 13
start_sender b-talk 550 "$send_port_b" 45238 "$key_b" "$OPUS_ENCODER" 13
start_sender relay-talk 600 "$send_port_relay" 45242 "$key_relay" "$OPUS_ENCODER" 5

# Half-way: B takes the booth over (one call); then A interprets into the floor.
# Each answer comes once the media node applied the routing, and the next 20 ms tick mixes by
# it: the routing follows within the call's round trip plus 20 ms, which must stay under 100 ms.
sleep 5
grep -q on-air <<<"$(ctl --timing handover "$participant_b" 2>"$E2E_WORK/handover.time")" ||
  fail "handover"
sleep 3.5
ctl --timing speak "$participant_a" floor >/dev/null 2>"$E2E_WORK/switch.time" ||
  fail "A speak floor"
wait_all "${receivers[@]}"
handover_ms=$(sed -n 's/^rpc_ms=//p' "$E2E_WORK/handover.time")
switch_ms=$(sed -n 's/^rpc_ms=//p' "$E2E_WORK/switch.time")
awk -v h="$handover_ms" -v s="$switch_ms" 'BEGIN { exit !(h + 20 < 100 && s + 20 < 100) }' ||
  fail "routing must follow within 100 ms: hand-over ${handover_ms} ms, switch ${switch_ms} ms"
pass "routing follows within 100 ms: hand-over call ${handover_ms} ms, switch ${switch_ms} ms (+ one 20 ms tick)"

# Window 1 (0.8-3.2 s of the recordings, which start with the first packet): A on air, the
# relay talking.
for who in b relay arabic turkish floor; do analyze_window "$who" 0.8 3.2 440 550 600 700; done
duck=$(awk -v a="$(tone_db arabic-0.8 700)" -v b="$(tone_db arabic-0.8 440)" \
  'BEGIN { printf "%.1f", a - b }')
awk -v d="$duck" 'BEGIN { exit !(d >= 12 && d <= 19) }' ||
  fail "ar listener: the floor should be about 15 dB under A: ${duck} dB"
expect_db_above arabic-0.8 700 -30
expect_db_below arabic-0.8 550 "$(awk -v a="$(tone_db arabic-0.8 700)" 'BEGIN { print a - 30 }')"
pass "ar listener: A on air at $(tone_db arabic-0.8 700) dB, the floor ${duck} dB under, B not heard"
expect_db_above b-0.8 440 -30
expect_db_above b-0.8 700 -30
expect_db_below b-0.8 550 "$(awk -v a="$(tone_db b-0.8 700)" 'BEGIN { print a - 30 }')"
pass "B on standby: hears the floor and its partner, never itself"
expect_db_above relay-0.8 700 -30
expect_db_below relay-0.8 600 "$(awk -v a="$(tone_db relay-0.8 700)" 'BEGIN { print a - 30 }')"
pass "relay interpreter: hears the Arabic channel, not itself"
expect_db_above turkish-0.8 600 -30
tr_duck=$(awk -v a="$(tone_db turkish-0.8 600)" -v b="$(tone_db turkish-0.8 440)" \
  'BEGIN { printf "%.1f", a - b }')
awk -v d="$tr_duck" 'BEGIN { exit !(d >= 12 && d <= 19) }' ||
  fail "tr listener: the floor should be about 15 dB under the relay: ${tr_duck} dB"
expect_db_below turkish-0.8 700 "$(awk -v a="$(tone_db turkish-0.8 600)" 'BEGIN { print a - 30 }')"
pass "tr listener: the relay at $(tone_db turkish-0.8 600) dB, the floor ${tr_duck} dB under, no Arabic"
for hz in 550 600 700; do
  expect_db_below floor-0.8 "$hz" "$(awk -v a="$(tone_db floor-0.8 440)" 'BEGIN { print a - 30 }')"
done
pass "floor listener: only the floor"

# Window 2 (5.8-7.0 s): after the hand-over, before A turns to the floor; the relay has stopped.
for who in arabic; do analyze_window "$who" 5.8 7.0 440 550 700; done
expect_db_above arabic-5.8 550 -30
expect_db_below arabic-5.8 700 "$(awk -v a="$(tone_db arabic-5.8 550)" 'BEGIN { print a - 30 }')"
pass "after the hand-over the ar channel carries B ($(tone_db arabic-5.8 550) dB), not A"

# Window 3 (10.0-11.8 s): the Turkish channel silent for 5 s: its listener hears the floor at full
# level; A interprets into the floor: the floor listener hears it.
for who in turkish floor; do analyze_window "$who" 10.0 11.8 440 550 600 700; done
back=$(awk -v now="$(tone_db turkish-10.0 440)" -v before="$(tone_db turkish-0.8 440)" \
  'BEGIN { printf "%.1f", now - before }')
awk -v d="$back" 'BEGIN { exit !(d >= 10) }' ||
  fail "tr listener: the floor should come back to full level once tr is silent (+${back} dB)"
expect_db_below turkish-10.0 600 "$(awk -v a="$(tone_db turkish-10.0 440)" 'BEGIN { print a - 30 }')"
pass "tr channel silent: the floor came back up by ${back} dB"
expect_db_above floor-10.0 700 -30
expect_db_above floor-10.0 440 -30
pass "A switched direction: the floor listener hears A ($(tone_db floor-10.0 700) dB)"
