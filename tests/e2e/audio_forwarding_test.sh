#!/usr/bin/env bash
# Forwarding a single voice (issue: forwarding instead of mixing). Two ffmpeg SRTP clients in a
# meeting, A sending 440 Hz and B 880 Hz, each recording what it is sent; like talkers, each
# pauses for 200 ms every 3 s (smooth 50 ms ramps). Each hears the other alone, so the node sends
# the other's Opus packets as they came and encodes nothing for them (judged from its counters
# over a window). A third client, C, joins and says something (660 Hz for 6 s): from its first
# packet A and B hear a mix of two voices (encoded; the encoder primed with what they last
# heard, its first frame coded without prediction); C falls silent and is removed, and
# forwarding resumes (where the two streams' Opus modes differ, at the talker's next pause). Judged on A's recording by FFT: B at one level
# forwarded and mixed, C only while it was in, and no click: the largest step between two
# samples stays that of the tones.
# Ports 47500-47599.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"

start_chorusd forward all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=47500 --media_port_max=47549 --media_workers=1
ctl room create meeting --room_id=pair --lobby=false >/dev/null || fail "room create"
room_join pair a guest 47560
room_join pair b guest 47564
start_receiver a 47560 "$answer_key_a" opus 111 48000 2 30
a_receiver=$RECEIVER_PID
start_receiver b 47564 "$answer_key_b" opus 111 48000 2 30
b_receiver=$RECEIVER_PID
t0=$(date +%s.%N)
talker a-talk 440 "$send_port_a" 47570 "$key_a" 36
talker b-talk 880 "$send_port_b" 47574 "$key_b" 36

# Two parties: each hears the other alone. Over 150 forwarded packets (1.5 s of both streams),
# next to nothing is encoded (a frame the jitter buffer had to conceal is mixed, not forwarded).
wait_counter chorus_audio_forwarded_total 100 20
forwarded0=$(counter chorus_audio_forwarded_total)
encodes0=$(counter chorus_audio_encodes_total)
wait_counter chorus_audio_forwarded_total $((forwarded0 + 150)) 20
forwarded1=$(counter chorus_audio_forwarded_total)
encodes1=$(counter chorus_audio_encodes_total)
awk -v e=$((encodes1 - encodes0)) -v f=$((forwarded1 - forwarded0)) 'BEGIN { exit !(e * 20 <= f) }' ||
  fail "two parties: $((encodes1 - encodes0)) encodes beside $((forwarded1 - forwarded0)) forwarded"
pass "two parties: $((forwarded1 - forwarded0)) packets forwarded, $((encodes1 - encodes0)) encoded"
sleep 2  # more of the forwarded call on the recordings (the judged windows use the clock)

# A third voice says something for 6 s: mixing from its first packet. Then it is silent (its
# voice ramped out, as a talker ends a sentence) and is removed.
join_at=$(seconds_since "$t0")
room_join pair c guest 47568
talker c-talk 660 "$send_port_c" 47578 "$key_c" 6 once
c_talker=$!
wait_counter chorus_audio_encodes_total $((encodes1 + 200)) 20
encodes2=$(counter chorus_audio_encodes_total)
wait "$c_talker" 2>/dev/null || true
forwarded2=$(counter chorus_audio_forwarded_total)
ctl remove "$participant_c" >/dev/null || fail "remove c"
leave_at=$(seconds_since "$t0")
pass "three parties: mixed and encoded (the counter ran on to $encodes2)"
# Forwarding again (at the latest from B's next pause, within 3 s).
wait_counter chorus_audio_forwarded_total $((forwarded2 + 150)) 20
sleep 4
pass "c removed: forwarding resumed ($(counter chorus_audio_forwarded_total) forwarded in all)"
kill -TERM "$a_receiver" "$b_receiver" 2>/dev/null || true
wait_all "$a_receiver" "$b_receiver"

# A's recording, by its own clock: it starts when the first packet came (within a second of
# t0), so the windows keep a second and a half from each switch, and are 3 s long (one of B's
# pauses in each, so B's level compares).
analyze a 440,660,880
echo "a: $(tr '\n' ' ' <"$E2E_WORK/a.report")"
jump=$(report_value a max_jump)
# Two tones at -18 and about -23 dBFS: the steepest of their sums moves by about
# (4100 x 2 pi 880 + 2300 x 2 pi 660) / 48000 (670) between two samples; a click (a step in the
# waveform, a burst) goes far above.
awk -v j="$jump" 'BEGIN { exit !(j <= 1500) }' || fail "A's recording has a step of $jump"
window() { awk -v t="$1" -v d="$2" 'BEGIN { print t + d }'; }
from_mixed=$(window "$join_at" 1.5)
from_again=$(window "$leave_at" 1.5)
analyze_window a 1.0 4.0 660 880
analyze_window a "$from_mixed" "$(window "$from_mixed" 3)" 660 880
analyze_window a "$from_again" "$(window "$from_again" 3)" 660 880
before=$(tone_db a-1.0 880) mixed=$(tone_db "a-$from_mixed" 880) again=$(tone_db "a-$from_again" 880)
echo "B's 880 Hz at A: forwarded $before dB, mixed $mixed dB, forwarded again $again dB"
expect_db_above a-1.0 880 -40
expect_db_below a-1.0 660 -60
expect_db_above "a-$from_mixed" 660 -40
expect_db_above "a-$from_mixed" 880 -40
expect_db_below "a-$from_again" 660 -60
awk -v a="$before" -v b="$mixed" -v c="$again" 'BEGIN {
  d1 = a - b; d2 = c - b; if (d1 < 0) d1 = -d1; if (d2 < 0) d2 = -d2; exit !(d1 <= 1.5 && d2 <= 1.5) }' ||
  fail "B's level moved between forwarded and mixed: $before, $mixed, $again dB"
pass "A hears B at one level forwarded and mixed ($before, $mixed, $again dB), C only while" \
  "it was in; largest step between two samples $jump"
