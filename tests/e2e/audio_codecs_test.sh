#!/usr/bin/env bash
# Transcoding, judged from outside (issue: Audio MCU, test 2): one session with an Opus, a PCMU
# (G.711 u-law) and a G.722 participant, each a real ffmpeg client over SRTP; each hears the other
# two, in the codec it offered.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"

start_chorusd codecs media-node --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=41300 --media_port_max=41399 --media_workers=1
node CreateSession '{"session_id": "mixed"}' >/dev/null || fail "CreateSession"

names=(opus pcmu g722)
codecs=(opus PCMU G722)
pts=(111 0 9)
# RTP clocks: Opus 48000; PCMU 8000; G.722 8000 although it samples at 16 kHz (RFC 3551).
clocks=(48000 8000 8000)
channels=(2 1 1)
encoders=("$OPUS_ENCODER" "$PCMU_ENCODER" "$G722_ENCODER")
# Tones chosen so that none is a low-order intermodulation product of the other two
# (2 x 660 - 880 = 440 would be: G.711 companding is not linear).
tones=(440 700 1030)
receivers=()
for i in 0 1 2; do
  key=$(new_key)
  add_endpoint mixed "${names[i]}" "${codecs[i]}" "${pts[i]}" "${clocks[i]}" $((43100 + i * 2)) "$key"
  send_port[i]=$ANSWER_PORT
  send_key[i]=$key
  start_receiver "${names[i]}" $((43100 + i * 2)) "$ANSWER_KEY" "${codecs[i]}" "${pts[i]}" \
    "${clocks[i]}" "${channels[i]}" 4
  receivers+=("$RECEIVER_PID")
done
for i in 0 1 2; do
  start_sender "send-${names[i]}" "${tones[i]}" "${send_port[i]}" $((43120 + i * 2)) \
    "${send_key[i]}" "${encoders[i]}" 7
done
wait_all "${receivers[@]}"
for i in 0 1 2; do
  analyze "${names[i]}" "${tones[@]}"
  for j in 0 1 2; do
    [[ $i == "$j" ]] && continue
    expect_db_above "${names[i]}" "${tones[j]}" -30
  done
  own_limit=$(awk -v a="$(tone_db "${names[i]}" "${tones[(i + 1) % 3]}")" 'BEGIN { print a - 30 }')
  expect_db_below "${names[i]}" "${tones[i]}" "$own_limit"
  pass "${codecs[i]} participant hears the other two in ${codecs[i]}, not itself"
done
