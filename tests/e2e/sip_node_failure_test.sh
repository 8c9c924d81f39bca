#!/usr/bin/env bash
# A media node's failure ends its SIP calls with a proper BYE (issue: SIP). `chorusd controller`
# with one `chorusd media-node` and the SIP role. Two baresip callers are on the node: one in the
# room (it dialled "<number>*<PIN>"), one still at the PIN prompt (it dialled the number alone).
# `kill -9` of the node: the controller sees the node gone, its room's participants leave
# (LEAVE_REASON_NODE_FAILED) and the caller at the prompt's entry ends; the SIP role sends each
# caller a BYE, which baresip reports as the session closed. The SIP role stays up.
# Ports: 48200-48299.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/sip_lib.sh"
command -v baresip >/dev/null || fail "baresip is not installed (scripts/install-deps.sh installs it)"

PIN=13579
start_chorusd node media-node --dev --grpc_listen=127.0.0.1:48200 --http_listen=127.0.0.1:0 \
  --media_port_min=48210 --media_port_max=48249 --media_workers=1 --node_id=node-a
node_pid=$CHORUSD_PID
start_chorusd controller controller --dev --grpc_listen=127.0.0.1:48201 \
  --http_listen=127.0.0.1:0 --media_nodes=127.0.0.1:48200
room_line=$(ctl room create meeting --access=shared-pin --guest_pin=$PIN --lobby=false) ||
  fail "room create"
ROOM=$(awk '{ print $1 }' <<<"$room_line")
DIAL=$(grep -o 'dial_in_id=[0-9]*' <<<"$room_line" | cut -d= -f2)
start_sip_role --sip_listen="sip:127.0.0.1:48202" --sip_controller=127.0.0.1:48201

baresip_caller inside 48260 48270 "$DIAL*$PIN@127.0.0.1:48202"
baresip_caller typing 48262 48272 "$DIAL@127.0.0.1:48202"
wait_answered 2 20
for _ in $(seq 100); do
  [[ $(ctl participants "$ROOM" | grep -c participants/) == 1 ]] && break
  sleep 0.1
done
[[ $(ctl participants "$ROOM" | grep -c participants/) == 1 ]] ||
  fail "the room does not hold the one caller that dialled its PIN"
pass "one caller in the room, one at the PIN prompt, both on the media node"

kill -KILL "$node_pid"
killed_at=$(date +%s.%N)
for name in inside typing; do
  for _ in $(seq 200); do
    grep -q "session closed" "$E2E_WORK/baresip-$name.log" && break
    sleep 0.1
  done
  grep -q "session closed" "$E2E_WORK/baresip-$name.log" ||
    fail "the $name caller's call did not end after the node failed ($(tail -c 300 "$E2E_WORK/baresip-$name.log" | tr '\r\n' '  '))"
done
elapsed=$(awk -v a="$killed_at" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
kill -0 "$SIP_PID" 2>/dev/null || fail "the SIP role did not survive"
(($(grep -c '"event":"sip_call_ended_by_room"' "$E2E_WORK/sip.log") == 2)) ||
  fail "the SIP role did not end both calls itself"
pass "kill -9 of the media node: both callers got a BYE within ${elapsed}s; the SIP role goes on"
