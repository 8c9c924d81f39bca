#!/usr/bin/env bash
# A browser's call survives a restart of the controller (issue: the controller keeps its word):
# a clinician and a patient, both headless Chromium pages running the reference web client, talk
# through a separate `chorusd media-node` while `chorusd controller` serves their signalling
# (--web_listen) and keeps its rooms in a SQLite state file. The controller is killed with
# SIGKILL in the middle of the call:
#  1. both pages say "Reconnecting…" and the patient still hears the clinician while no
#     controller runs (FFT in the page);
#  2. a new controller on the same state file and ports takes the call over; both pages take
#     their sessions up again with their session tokens ("resume"), and the notice goes;
#  3. the call goes on both ways, and the clinician's page can still act on the patient: it
#     mutes it (the clinician no longer hears it) and unmutes it (heard again);
#  4. an orderly restart (SIGTERM, as an upgrade does) keeps them in the call the same way.
# A loopback-only network namespace of its own; TCP and UDP ports 47600-47699.
if [[ -z ${CHORUS_E2E_NETNS:-} ]]; then
  exec unshare --net env CHORUS_E2E_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/tools/web_lib.sh"
command -v chromium >/dev/null || fail "chromium is not installed (scripts/install-deps.sh installs it)"

state="$E2E_WORK/state.db"
node_addr=127.0.0.1:47600
start_chorusd node media-node --dev --grpc_listen="$node_addr" --http_listen=127.0.0.1:47601 \
  --media_port_min=47610 --media_port_max=47639 --webrtc_port=47640 --media_workers=1 \
  --video_workers=1 --node_id=node-w
web_start_harness 47661
WEB_URL=http://127.0.0.1:47660
start_controller() {
  start_chorusd "$1" controller --dev --grpc_listen=127.0.0.1:47650 \
    --http_listen=127.0.0.1:47651 --media_nodes="$node_addr" --state_file="$state" \
    --web_listen=127.0.0.1:47660 --public_url="$WEB_URL" --web_allowed_origins="$HARNESS_URL"
}
start_controller first
first_pid=$CHORUSD_PID

ctl room create consultation --room_id=clinic >/dev/null || fail "room create clinic"
web_chromium patient 440 ff0000
web_chromium host 880 0000ff
web_ready patient 30
web_ready host 30
web_mount host "$(web_invite clinic host)"
web_do host 20 '{"op": "click", "selector": "[data-action=join]"}'
web_do host 20 '{"op": "wait", "selector": ".chorus-call .chorus-host"}'
web_mount patient "$(web_invite clinic guest)"
web_do patient 30 '{"op": "click", "selector": "[data-action=join]"}'
web_do host 20 '{"op": "click", "selector": ".chorus-waiting-list [data-action=admit]"}'
web_do patient 20 '{"op": "wait", "selector": ".chorus-call .chorus-remote-video"}'
p=$(web_send patient '{"op": "await_tone", "hz": 880, "above": -70, "hold": 1, "timeout": 40}')
h=$(web_send host '{"op": "await_tone", "hz": 440, "above": -70, "hold": 1, "timeout": 40}')
web_wait patient "$p" 45
web_wait host "$h" 45
pass "the clinician admitted the patient; each hears the other"

# Both pages wait for the notice, then the controller dies; the patient listens meanwhile.
p_notice=$(web_send patient '{"op": "wait", "selector": ".chorus-connection", "timeout": 30}')
h_notice=$(web_send host '{"op": "wait", "selector": ".chorus-connection", "timeout": 30}')
web_started patient "$p_notice" 10
web_started host "$h_notice" 10
kill -KILL "$first_pid"
wait "$first_pid" 2>/dev/null || true
p_outage=$(web_send patient '{"op": "measure", "tones": [440, 880], "seconds": 3}')
web_wait patient "$p_notice" 30
[[ $(web_value "r['text']") == Reconnecting* ]] ||
  fail "the patient's page should say it reconnects: '$(web_value "r['text']")'"
web_wait host "$h_notice" 30
web_wait patient "$p_outage" 15
echo "patient while no controller runs: $(cat "$WEB_RESULT")"
/usr/bin/python3 - "$WEB_RESULT" <<'PY' || fail "the call stopped with the controller: $(cat "$WEB_RESULT")"
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["median_db"]["880"] > -70 else 1)
PY
pass "controller killed: both pages say Reconnecting…, and the patient still hears the clinician"

start_controller second
second_pid=$CHORUSD_PID
web_do patient 60 '{"op": "gone", "selector": ".chorus-connection", "timeout": 59}'
web_do host 60 '{"op": "gone", "selector": ".chorus-connection", "timeout": 59}'
metrics=$(curl -sf "http://127.0.0.1:47651/metrics") || fail "no metrics from the new controller"
grep -q 'chorus_web_joins_total{result="resumed"} 2' <<<"$metrics" ||
  fail "both pages should have resumed: $(grep chorus_web_joins_total <<<"$metrics")"
web_do patient 5 '{"op": "wait", "selector": ".chorus-call .chorus-remote-video"}'
pass "a new controller: both pages took their sessions up again, and are still in the call"

p=$(web_send patient '{"op": "measure", "tones": [440, 880], "seconds": 3}')
h=$(web_send host '{"op": "measure", "tones": [440, 880], "seconds": 3}')
web_wait patient "$p" 10
web_judge_call patient 440 880 0000ff
web_wait host "$h" 10
web_judge_call host 880 440 ff0000
web_do host 5 '{"op": "click", "selector": ".chorus-people [data-action=mute]"}'
web_do host 15 '{"op": "await_tone", "hz": 440, "below": -90, "hold": 1}'
web_do host 5 '{"op": "click", "selector": ".chorus-people [data-action=unmute]"}'
web_do host 15 '{"op": "await_tone", "hz": 440, "above": -70, "hold": 1}'
pass "after the restart each hears and sees the other, and the clinician mutes and unmutes the patient"


# An upgrade stops the controller in order (SIGTERM): its sockets close, the participants stay.
h=$(web_send host '{"op": "wait", "selector": ".chorus-connection", "timeout": 30}')
web_started host "$h" 10
kill -TERM "$second_pid"
wait_exit "$second_pid" 30
[[ $EXIT_STATUS -eq 0 ]] || fail "the controller exited with $EXIT_STATUS after SIGTERM"
web_wait host "$h" 30
start_controller third
web_do patient 60 '{"op": "gone", "selector": ".chorus-connection", "timeout": 59}'
web_do host 60 '{"op": "gone", "selector": ".chorus-connection", "timeout": 59}'
grep -q 'chorus_web_joins_total{result="resumed"} 2' <<<"$(curl -sf http://127.0.0.1:47651/metrics)" ||
  fail "both pages should have resumed on the third controller"
p=$(web_send patient '{"op": "await_tone", "hz": 880, "above": -70, "hold": 1, "timeout": 20}')
web_do host 20 '{"op": "await_tone", "hz": 440, "above": -70, "hold": 1}'
web_wait patient "$p" 25
pass "an orderly restart: both pages resumed on the next controller, and still hear each other"
