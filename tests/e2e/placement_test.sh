#!/usr/bin/env bash
# Placement and node failure, judged from outside (issue: Room controller): `chorusd controller`
# with two `chorusd media-node` processes. Rooms spread over both; `kill -9` of one gives its
# rooms' watchers a media_node_failed event within 5 s and new rooms land on the other; SIGTERM of
# the other drains it (no new rooms there, its media goes on), then it exits 0.
source "$(dirname "$0")/lib.sh"

start_chorusd node-a media-node --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=41600 --media_port_max=41649 --media_workers=1 --node_id=node-a
node_a=$GRPC_ADDR
node_a_pid=$CHORUSD_PID
start_chorusd node-b media-node --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=41650 --media_port_max=41699 --media_workers=1 --node_id=node-b \
  --drain_timeout=4s
node_b=$GRPC_ADDR
node_b_pid=$CHORUSD_PID
start_chorusd controller controller --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_nodes="$node_a,$node_b"
controller=$GRPC_ADDR
ctl() { "$CHORUSCTL" --insecure --address="$controller" "$@"; }
key=$(head -c 30 /dev/urandom | base64 -w0)

# join_room ID: creates a meeting room with a shared PIN, joins it, prints the node it is on.
join_room() {
  ctl room create meeting --access=shared-pin --guest_pin=2468 --room_id="$1" >/dev/null ||
    fail "room create $1"
  ctl join "$1" --pin=2468 --receive=127.0.0.1:44000 --key="$key" >/dev/null || return 1
  ctl --json room get "$1" | grep -o '"media_node": "[^"]*"' | cut -d'"' -f4
}
first=$(join_room room-one) || fail "join room-one"
second=$(join_room room-two) || fail "join room-two"
[[ -n $first && -n $second && $first != "$second" ]] ||
  fail "rooms did not spread over both nodes: '$first' and '$second'"
pass "rooms spread over both nodes ($first, $second)"

# Watch the room on node A, then kill node A without warning.
[[ $first == "$node_a" ]] && room_on_a=room-one || room_on_a=room-two
ctl watch "$room_on_a" >"$E2E_WORK/watch.txt" 2>&1 &
E2E_PIDS+=($!)
sleep 0.5
kill -KILL "$node_a_pid"
killed_at=$(date +%s.%N)
for _ in $(seq 70); do
  grep -q media_node_failed "$E2E_WORK/watch.txt" && break
  sleep 0.1
done
grep -q media_node_failed "$E2E_WORK/watch.txt" || fail "no media_node_failed event within 7 s"
elapsed=$(awk -v a="$killed_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
awk -v e="$elapsed" 'BEGIN { exit !(e <= 6.5) }' || fail "node failure seen after $elapsed s"
grep -q LEAVE_REASON_NODE_FAILED "$E2E_WORK/watch.txt" || fail "participants not told"
pass "kill -9 of a node: media_node_failed after ${elapsed}s"
third=$(join_room room-three) || fail "join room-three"
[[ $third == "$node_b" ]] || fail "the new room landed on '$third', not on the healthy node"
pass "a new room lands on the healthy node"

# Drain node B: no new rooms there (none left: RESOURCE_EXHAUSTED), then exit 0.
kill -TERM "$node_b_pid"
sleep 1.5
status=0
join_room room-four >/dev/null 2>"$E2E_WORK/four.txt" || status=$?
[[ $status != 0 ]] && grep -q RESOURCE_EXHAUSTED "$E2E_WORK/four.txt" ||
  fail "a draining node took a new room: $(cat "$E2E_WORK/four.txt")"
load=$("$CHORUSCTL" --insecure --address="$node_b" node GetLoad) || fail "node B stopped early"
grep -q '"draining": true' <<<"$load" && grep -q '"sessions": 2' <<<"$load" ||
  fail "node B should drain with its two sessions going on: $load"
pass "SIGTERM: the node drains, keeps its sessions, and takes no new room"
wait_exit "$node_b_pid" 10
[[ $EXIT_STATUS == 0 ]] || fail "node B exited with $EXIT_STATUS"
pass "the drained node exits 0"
