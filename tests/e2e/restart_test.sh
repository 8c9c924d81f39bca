#!/usr/bin/env bash
# The controller keeps its word across a restart (issue: the controller keeps its word): chorusd
# with --state_file creates a room and invites, is stopped with SIGTERM and started again on the
# same file; the room is there (open, nobody in it), an invite used before the restart is still
# refused, and two invites still pending join with real ffmpeg clients over SRTP and hear each
# other. The file can be backed up while chorusd runs; a second chorusd on it is refused.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 is not installed (scripts/install-deps.sh installs it)"

state="$E2E_WORK/state.db"
start_chorusd first all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=46700 --media_port_max=46749 --media_workers=1 --drain_timeout=1s \
  --state_file="$state"
first_pid=$CHORUSD_PID

ctl room create meeting --room_id=restart-room >/dev/null || fail "room create"
token() {
  local out
  out=$(ctl --json invite create restart-room guest) || fail "invite create"
  field "$out" token
}
used=$(token)
alice=$(token)
bob=$(token)
[[ -n $used && -n $alice && -n $bob ]] || fail "no invite tokens"
ctl join restart-room --invite_token="$used" --receive=127.0.0.1:46790 --key="$(new_key)" \
  >/dev/null || fail "join before the restart"
[[ $(stat -c %a "$state") == 600 ]] || fail "the state file should be 0600: $(stat -c %a "$state")"
pass "room, three invites, one used; the state file is readable by its owner only"

kill -TERM "$first_pid"
wait_exit "$first_pid" 40
[[ $EXIT_STATUS -eq 0 ]] || fail "chorusd exited with $EXIT_STATUS after SIGTERM"

start_chorusd second all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=46750 --media_port_max=46759 --media_workers=1 --state_file="$state"
grep -q '"event":"state_loaded".*"rooms":1' "$E2E_WORK/second.log" ||
  fail "the restarted chorusd should say it loaded one room"
room=$(ctl --json room get restart-room) || fail "the room is gone after the restart"
grep -q '"ROOM_STATE_OPEN"' <<<"$room" || fail "the room should come back open: $room"
grep -q '"participantCount"' <<<"$room" && fail "nobody should be in the room: $room"
pass "after the restart the room is there, open and empty"

# A backup is a copy SQLite makes while chorusd runs; it holds the room.
sqlite3 "$state" ".backup '$E2E_WORK/backup.db'" || fail "an online backup of the state file"
[[ $(sqlite3 "$E2E_WORK/backup.db" "SELECT id FROM rooms") == restart-room ]] ||
  fail "the backup should hold the room"
pass "sqlite3 .backup copies the state file while chorusd runs"

expect_refusal "in use by another chorusd" all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=46760 --media_port_max=46769 --state_file="$state"

out="$E2E_WORK/reuse.txt"
if ctl join restart-room --invite_token="$used" --receive=127.0.0.1:46790 --key="$(new_key)" \
  >"$out" 2>&1; then
  fail "an invite used before the restart joined again"
fi
grep -q PERMISSION_DENIED "$out" || fail "the reused invite should be PERMISSION_DENIED: $(cat "$out")"
pass "the invite used before the restart is still refused"

alice_key=$(new_key)
bob_key=$(new_key)
a=$(ctl --json join restart-room --invite_token="$alice" --receive=127.0.0.1:46770 \
  --key="$alice_key") || fail "alice's pending invite does not join after the restart"
b=$(ctl --json join restart-room --invite_token="$bob" --receive=127.0.0.1:46774 \
  --key="$bob_key") || fail "bob's pending invite does not join after the restart"
start_receiver alice 46770 "$(field "$a" key_base64)" opus 111 48000 2 3
alice_receiver=$RECEIVER_PID
start_receiver bob 46774 "$(field "$b" key_base64)" opus 111 48000 2 3
bob_receiver=$RECEIVER_PID
start_sender alice-talk 440 "$(field "$a" port)" 46780 "$alice_key" "$OPUS_ENCODER" 6
start_sender bob-talk 700 "$(field "$b" port)" 46784 "$bob_key" "$OPUS_ENCODER" 6
wait_all "$alice_receiver" "$bob_receiver"
analyze alice 440 700
analyze bob 440 700
expect_db_above alice 700 -30
expect_db_above bob 440 -30
pass "invites pending at the restart join after it: alice hears bob ($(tone_db alice 700) dB)," \
  "bob hears alice ($(tone_db bob 440) dB)"
