#!/usr/bin/env bash
# Draining a media node, as Kubernetes does it (SIGTERM, then a long grace period), judged from
# outside: `chorusd controller` with two `chorusd media-node` processes, real ffmpeg clients over
# SRTP. A room with live media sits on node X when X gets SIGTERM:
#  1. X's readiness goes off at once (/readyz 503, chorus_ready 0, chorus_draining 1, gRPC health
#     NOT_SERVING);
#  2. the controller places no new room on X, even in the first moments of the drain: new rooms
#     land on node Y and their joins succeed;
#  3. X's room goes on: a participant who starts listening after the SIGTERM hears the other's tone;
#  4. when the room ends (closed through the public API) X exits 0 at once, long before its drain
#     timeout;
# and then Y, whose rooms never end, exits 0 when its drain timeout passes.
# Loopback only; TCP and UDP ports 44500-44599.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"

drain_timeout_s=12
node_flags=(--dev --media_workers=1 --drain_min_wait=1s --drain_timeout="${drain_timeout_s}s")
start_chorusd node-a media-node --grpc_listen=127.0.0.1:44500 --http_listen=127.0.0.1:44501 \
  --media_port_min=44510 --media_port_max=44529 --node_id=node-a "${node_flags[@]}"
declare -A node_pid node_http node_log
node_pid[$GRPC_ADDR]=$CHORUSD_PID
node_http[$GRPC_ADDR]=$HTTP_ADDR
node_log[$GRPC_ADDR]=$E2E_WORK/node-a.log
start_chorusd node-b media-node --grpc_listen=127.0.0.1:44502 --http_listen=127.0.0.1:44503 \
  --media_port_min=44530 --media_port_max=44549 --node_id=node-b "${node_flags[@]}"
node_pid[$GRPC_ADDR]=$CHORUSD_PID
node_http[$GRPC_ADDR]=$HTTP_ADDR
node_log[$GRPC_ADDR]=$E2E_WORK/node-b.log
# Node C stays idle: listed before B, it is the controller's first choice for new rooms (ties go
# to the first listed) until it stops.
start_chorusd node-c media-node --grpc_listen=127.0.0.1:44506 --http_listen=127.0.0.1:44507 \
  --media_port_min=44550 --media_port_max=44559 --node_id=node-c --dev --media_workers=1
node_c_pid=$CHORUSD_PID
start_chorusd controller controller --dev --grpc_listen=127.0.0.1:44504 \
  --http_listen=127.0.0.1:44505 --media_nodes=127.0.0.1:44500,127.0.0.1:44506,127.0.0.1:44502

# create_room ID: a meeting with a shared PIN and no lobby.
create_room() {
  ctl room create meeting --access=shared-pin --guest_pin=2468 --lobby=false --room_id="$1" \
    >/dev/null || fail "room create $1"
}
# pin_join ROOM PORT KEY: joins with the PIN, receiving on 127.0.0.1:PORT; prints the answer.
pin_join() { ctl --json join "$1" --pin=2468 --receive=127.0.0.1:"$2" --key="$3"; }
node_of() { ctl --json room get "$1" | grep -o '"media_node": "[^"]*"' | cut -d'"' -f4; }
metric() { curl -sf "http://$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }

# A live room: alice talks (440 Hz), bob will listen.
create_room ward
key_alice=$(new_key)
key_bob=$(new_key)
alice=$(pin_join ward 44560 "$key_alice") || fail "alice join"
bob=$(pin_join ward 44562 "$key_bob") || fail "bob join"
x=$(node_of ward)
[[ -n ${node_pid[$x]:-} ]] || fail "the room is on '$x', not on node A or B"
for candidate in "${!node_pid[@]}"; do [[ $candidate != "$x" ]] && y=$candidate; done
start_sender alice 440 "$(field "$alice" port)" 44570 "$key_alice" "$OPUS_ENCODER" 12
sleep 1.5
packets_in=$(metric "${node_http[$x]}" 'chorus_rtp_packets_total{direction="in"}')
packets_out=$(metric "${node_http[$x]}" 'chorus_rtp_packets_total{direction="out"}')
awk -v i="${packets_in:-0}" -v o="${packets_out:-0}" 'BEGIN { exit !(i > 20 && o > 20) }' ||
  fail "no media through node $x before the drain (in ${packets_in:-none}, out ${packets_out:-none})"
pass "room ward is live on node $x ($packets_in RTP packets in, $packets_out out)"

# 1. SIGTERM: readiness off at once. Node C stops too: with no session it drains at once.
kill -TERM "${node_pid[$x]}" "$node_c_pid"
term_at=$(date +%s.%N)
code=""
for _ in $(seq 10); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://${node_http[$x]}/readyz")
  [[ $code == 503 ]] && break
  sleep 0.05
done
[[ $code == 503 ]] || fail "node $x: /readyz should answer 503 at once after SIGTERM, answers $code"

# 2. New rooms go to the ready node from the first moment of the drain on, although the
#    controller's last load reports (polled each second) still showed X and C ready.
for room in new-1 new-2 new-3; do
  create_room "$room"
  pin_join "$room" 44564 "$(new_key)" >"$E2E_WORK/$room.json" 2>&1 ||
    fail "joining $room while $x drains: $(cat "$E2E_WORK/$room.json")"
  on=$(node_of "$room")
  [[ $on == "$y" ]] || fail "room $room was placed on $on, not on the ready node $y"
done
pass "three rooms created at once after the SIGTERMs all went to node $y"
[[ $(metric "${node_http[$x]}" chorus_ready) == 0 && $(metric "${node_http[$x]}" chorus_draining) == 1 ]] ||
  fail "node $x: chorus_ready should be 0 and chorus_draining 1"
health=$("$CHORUSCTL" --insecure --address="$x" health chorus.internal.v1.MediaNode || true)
[[ $health == NOT_SERVING ]] || fail "node $x: health while draining: $health"
pass "SIGTERM: node $x is unready at once (/readyz 503, chorus_draining 1, NOT_SERVING)"
wait_exit "$node_c_pid" 5
[[ $EXIT_STATUS == 0 ]] || fail "the idle node C exited with $EXIT_STATUS"
pass "the idle node C drained at once and exited 0"

# 3. The draining node's room goes on: bob starts listening now and hears alice.
start_receiver bob 44562 "$(field "$bob" key_base64)" opus 111 48000 2 3
wait_all "$RECEIVER_PID"
analyze bob 440
expect_db_above bob 440 -30
load=$("$CHORUSCTL" --insecure --address="$x" node GetLoad) || fail "node $x stopped early"
grep -q '"draining": true' <<<"$load" && grep -q '"sessions": 1' <<<"$load" ||
  fail "node $x should drain with its one session going on: $load"
kill -0 "${node_pid[$x]}" 2>/dev/null || fail "node $x exited while its room was live"
pass "the room on the draining node goes on: bob hears alice at $(tone_db bob 440) dB"

# 4. The room ends: the node exits 0 at once, before its drain timeout.
ctl room close ward >/dev/null || fail "room close"
closed_at=$(date +%s.%N)
wait_exit "${node_pid[$x]}" 5
[[ $EXIT_STATUS == 0 ]] || fail "node $x exited with $EXIT_STATUS"
elapsed=$(awk -v a="$term_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
after_close=$(awk -v a="$closed_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
awk -v e="$elapsed" -v t="$drain_timeout_s" 'BEGIN { exit !(e < t) }' ||
  fail "node $x took ${elapsed}s: it waited for its drain timeout, not for its room"
grep -q '"event":"drained"' "${node_log[$x]}" || fail "node $x logged no drained line"
pass "the room closed: node $x exited 0 ${after_close}s later (${elapsed}s after SIGTERM)"

# Then the other node, whose rooms never end: no room can be placed, and it exits 0 once its
# drain timeout passes.
kill -TERM "${node_pid[$y]}"
term_at=$(date +%s.%N)
sleep 1.2
create_room late
status=0
pin_join late 44566 "$(new_key)" >"$E2E_WORK/late.json" 2>&1 || status=$?
[[ $status != 0 ]] && grep -q RESOURCE_EXHAUSTED "$E2E_WORK/late.json" ||
  fail "with every node draining, a join should be refused: $(cat "$E2E_WORK/late.json")"
wait_exit "${node_pid[$y]}" $((drain_timeout_s + 8))
[[ $EXIT_STATUS == 0 ]] || fail "node $y exited with $EXIT_STATUS"
elapsed=$(awk -v a="$term_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
awk -v e="$elapsed" -v t="$drain_timeout_s" 'BEGIN { exit !(e >= t - 0.5) }' ||
  fail "node $y exited after ${elapsed}s, before its ${drain_timeout_s}s drain timeout with rooms live"
grep -q '"event":"drain_timeout"' "${node_log[$y]}" || fail "node $y logged no drain_timeout line"
pass "node $y kept its three rooms until the ${drain_timeout_s}s drain timeout, then exited 0 (${elapsed}s)"
