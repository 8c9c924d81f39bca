#!/usr/bin/env bash
# SIP calls across a restart of a controller on SQLite (which keeps rooms and participants, not
# callers still typing their PIN, nor the rooms' events). The media node and the SIP role run
# apart from the controller; two baresip callers are in: one joined with its PIN in the dial
# string, one at the spoken prompt typing nothing yet. The controller is killed (SIGKILL) and
# started again on its state file. Judged from outside:
#   1. the caller at the prompt is hung up on (BYE: its reservation is gone; it may call again),
#      instead of typing into nothing;
#   2. the joined caller's call goes on: no BYE, and it is still in the roster.
# Ports: 48500-48599.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/sip_lib.sh"
command -v baresip >/dev/null || fail "baresip is not installed (scripts/install-deps.sh installs it)"

PIN=97531
SIP_PORT=48501
state="$E2E_WORK/state.db"
start_chorusd node media-node --dev --grpc_listen=127.0.0.1:48502 --http_listen=127.0.0.1:0 \
  --media_port_min=48510 --media_port_max=48549 --media_workers=1 --node_id=node-sip
start_controller() {
  start_chorusd "$1" controller --dev --grpc_listen=127.0.0.1:48500 --http_listen=127.0.0.1:0 \
    --media_nodes=127.0.0.1:48502 --state_file="$state"
}
start_controller first
first_pid=$CHORUSD_PID
room_line=$(ctl room create meeting --access=shared-pin --guest_pin=$PIN --lobby=false) ||
  fail "room create"
ROOM=$(awk '{ print $1 }' <<<"$room_line")
DIAL=$(grep -o 'dial_in_id=[0-9]*' <<<"$room_line" | cut -d= -f2)
start_sip_role --sip_listen="sip:127.0.0.1:$SIP_PORT" --sip_controller=127.0.0.1:48500

baresip_caller joined 48560 48570 "$DIAL*$PIN@127.0.0.1:$SIP_PORT"
wait_log "$E2E_WORK/first.log" '"event":"participant_joined"' 15 "the caller with its PIN did not join"
baresip_caller typing 48564 48574 "$DIAL@127.0.0.1:$SIP_PORT"
wait_answered 2 15
[[ $(ctl participants "$ROOM" | grep -c participants/ || true) == 1 ]] ||
  fail "expected the joined caller alone in the roster"
pass "one caller joined with its PIN, one at the PIN prompt"

kill -KILL "$first_pid"
wait_exit "$first_pid" 10
start_controller second
wait_log "$E2E_WORK/baresip-typing.log" "session closed" 20 \
  "the caller at the prompt was not hung up on after the controller's restart"
pass "the caller at the PIN prompt was hung up on (BYE) once the restarted controller lost it"
# The joined caller: still in, its call going on (checked a while after the other's BYE).
sleep 3
! grep -q "session closed" "$E2E_WORK/baresip-joined.log" ||
  fail "the joined caller's call ended across the controller's restart"
[[ $(ctl participants "$ROOM" | grep -c participants/ || true) == 1 ]] ||
  fail "the joined caller is no longer in the roster after the restart"
pass "the joined caller's call goes on across the restart, still in the roster"
