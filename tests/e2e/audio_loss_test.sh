#!/usr/bin/env bash
# Loss, judged from outside (issue: Audio MCU, test 3): one Opus sender goes through a relay that
# drops 5 % of its packets at random (seeded); the others still hear its tone with no gap longer
# than 60 ms.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"

start_chorusd loss media-node --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=41400 --media_port_max=41499 --media_workers=1
node CreateSession '{"session_id": "lossy"}' >/dev/null || fail "CreateSession"

key_a=$(new_key)
add_endpoint lossy talker opus 111 48000 43200 "$key_a"
talker_port=$ANSWER_PORT
talker_key=$key_a
receivers=()
for i in 0 1; do
  key=$(new_key)
  add_endpoint lossy "listener$i" opus 111 48000 $((43202 + i * 2)) "$key"
  start_receiver "listener$i" $((43202 + i * 2)) "$ANSWER_KEY" opus 111 48000 2 5
  receivers+=("$RECEIVER_PID")
done
"$UDP_RELAY" --listen=127.0.0.1:43210 --to="127.0.0.1:$talker_port" --loss=0.05 --seed=7 \
  --seconds=10 >"$E2E_WORK/relay.txt" &
E2E_PIDS+=($!)
relay_pid=$!
sleep 0.2
start_sender talker 500 43210 43212 "$talker_key" "$OPUS_ENCODER" 8
wait_all "${receivers[@]}"
for i in 0 1; do
  analyze "listener$i" 500
  expect_db_above "listener$i" 500 -30
  gap=$(report_value "listener$i" longest_gap_ms)
  (( gap >= 0 && gap <= 60 )) || fail "listener$i: a gap of $gap ms in the talker's tone"
  pass "listener$i hears the lossy talker with its longest gap $gap ms"
done
wait_all "$relay_pid"
dropped=$(awk '{ print $4 }' "$E2E_WORK/relay.txt")
(( dropped > 0 )) || fail "the relay dropped nothing: $(cat "$E2E_WORK/relay.txt")"
pass "the relay dropped $dropped packets ($(cat "$E2E_WORK/relay.txt"))"
