#!/usr/bin/env bash
# The audio MCU judged from outside, with real ffmpeg clients over SRTP (issue: Audio MCU, tests 1,
# 4 and 5):
#  1. three Opus participants send 440, 700 and 1030 Hz: each hears the other two clearly and its
#     own tone at least 30 dB below them (FFT of what an ffmpeg receiver decoded);
#  5. a fourth participant sends 1250 Hz with a wrong SRTP key: nobody hears it, and the node
#     counts its packets as SRTP authentication failures;
#  4. five participants send full-scale tones: every output stays within full scale with no
#     wrap-around (no sample-to-sample jump beyond what the tones allow).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"

start_chorusd media media-node --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=41200 --media_port_max=41299 --media_workers=1
pass "chorusd listening on $GRPC_ADDR"

# ---- 1 and 5: three tones, and an intruder with the wrong key
node CreateSession '{"session_id": "tones"}' >/dev/null || fail "CreateSession"
# Tones chosen so that none is a low-order intermodulation product of the other two
# (2 x 660 - 880 = 440 would be: G.711 companding is not linear).
tones=(440 700 1030)
receivers=()
for i in 0 1 2; do
  key=$(new_key)
  add_endpoint tones "p$i" opus 111 48000 $((43000 + i * 2)) "$key"
  send_port[i]=$ANSWER_PORT
  send_key[i]=$key
  start_receiver "p$i" $((43000 + i * 2)) "$ANSWER_KEY" opus 111 48000 2 4
  receivers+=("$RECEIVER_PID")
done
add_endpoint tones intruder opus 111 48000 43010 "$(new_key)"
intruder_port=$ANSWER_PORT
for i in 0 1 2; do
  start_sender "s$i" "${tones[i]}" "${send_port[i]}" $((43020 + i * 2)) "${send_key[i]}" \
    "$OPUS_ENCODER" 7
done
# The intruder knows where to send but not the key the node expects.
start_sender intruder 1250 "$intruder_port" 43030 "$(new_key)" "$OPUS_ENCODER" 7
wait_all "${receivers[@]}"

for i in 0 1 2; do
  analyze "p$i" 440 700 1030 1250
  own=${tones[i]}
  for other in "${tones[@]}"; do
    [[ $other == "$own" ]] && continue
    expect_db_above "p$i" "$other" -30
    own_limit=$(awk -v o="$(tone_db "p$i" "$other")" 'BEGIN { print o - 30 }')
    expect_db_below "p$i" "$own" "$own_limit"
  done
  # The intruder's tone is as absent as the participant's own: 30 dB below what is heard.
  expect_db_below "p$i" 1250 "$own_limit"
done
pass "each participant hears the two others and not itself (own tone >= 30 dB below)"
pass "the wrong-key sender is not heard"

metrics=$(curl -sf "http://$HTTP_ADDR/metrics") || fail "GET /metrics"
failures=$(awk '/^chorus_srtp_failures_total / { print $2 }' <<<"$metrics")
awk -v f="${failures:-0}" 'BEGIN { exit !(f >= 50) }' ||
  fail "expected the intruder's packets counted as SRTP failures, got ${failures:-none}"
pass "the wrong-key packets are counted as SRTP authentication failures ($failures)"
node DeleteSession '{"name": "sessions/tones"}' >/dev/null || fail "DeleteSession"

# ---- 4: five full-scale tones
node CreateSession '{"session_id": "loud", "session": {"buses": [{"max_speakers": 5}]}}' >/dev/null || fail "CreateSession loud"
loud=(300 500 700 900 1100)
receivers=()
for i in 0 1 2 3 4; do
  key=$(new_key)
  add_endpoint loud "l$i" opus 111 48000 $((43040 + i * 2)) "$key"
  send_port[i]=$ANSWER_PORT
  send_key[i]=$key
  receive_key[i]=$ANSWER_KEY
done
# The receivers start once every endpoint exists, just before the senders, and record 4 s (the
# analysis skips the first), so a slow start of the senders on a busy machine still leaves
# seconds of all five tones.
for i in 0 1 2 3 4; do
  start_receiver "l$i" $((43040 + i * 2)) "${receive_key[i]}" opus 111 48000 2 4
  receivers+=("$RECEIVER_PID")
done
for i in 0 1 2 3 4; do
  # sine's amplitude is 1/8: volume 8 makes it full scale.
  start_sender "loud$i" "${loud[i]}" "${send_port[i]}" $((43060 + i * 2)) "${send_key[i]}" \
    "$OPUS_ENCODER" 7 8
done
wait_all "${receivers[@]}"
for i in 0 1 2 3 4; do
  analyze "l$i" "${loud[@]}"
  peak=$(report_value "l$i" peak)
  jump=$(report_value "l$i" max_jump)
  # Four tones of at most 1100 Hz, limited to full scale, change by at most about
  # 32768 * 2 * pi * 1100 / 48000 ~ 4700 per sample each; a wrap-around jumps by ~65000.
  awk -v j="$jump" 'BEGIN { exit !(j < 20000) }' || fail "l$i: a jump of $jump between samples"
  awk -v p="$peak" 'BEGIN { exit !(p <= 1.0) }' || fail "l$i: peak $peak"
  for other in "${loud[@]}"; do
    [[ $other == "${loud[i]}" ]] && continue
    expect_db_above "l$i" "$other" -30
  done
done
pass "five full-scale talkers: outputs within full scale, no wrap-around, every other tone heard"
