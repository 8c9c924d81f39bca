#!/usr/bin/env bash
# The reference web client (web/) in Firefox ESR, headless: a patient's flow. chorusd serves the
# client and its signalling (--web_listen); a platform page on another origin
# (tools/web_harness.py) mounts the real client and drives it by its buttons. The clinician is a
# Chromium page (880 Hz, blue fake camera) in a consultation with a lobby; the patient is Firefox
# (fake microphone at 440 Hz): device check, waiting room (nothing reaches it), admitted by the
# host's click, then it hears the host and sees the host's blue, and the host hears it; neither
# hears itself. Then the link again is refused as used, and a locked room refuses a new link.
# Firefox's preferences for this loopback-only namespace are in tools/web_lib.sh
# (web_firefox): loopback ICE candidates, fake devices, a mock audio backend.
if [[ -z ${CHORUS_E2E_NETNS:-} ]]; then
  exec unshare --net env CHORUS_E2E_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/tools/web_lib.sh"
for browser in chromium firefox-esr; do
  command -v $browser >/dev/null ||
    fail "$browser is not installed (scripts/install-deps.sh installs it)"
done

web_start_harness 46961
web_start_chorusd chorus 46900 "$HARNESS_URL"
ctl room create consultation --room_id=clinic >/dev/null || fail "room create clinic"
# Firefox first: a fresh profile starts slower than Chromium.
web_firefox patient 440
web_chromium host 880 0000ff
web_ready host 30
web_ready patient 60

web_mount host "$(web_invite clinic host)"
web_do host 20 '{"op": "click", "selector": "[data-action=join]"}'
web_do host 20 '{"op": "wait", "selector": ".chorus-call .chorus-host"}'

patient_link=$(web_invite clinic guest)
web_mount patient "$patient_link"
web_do patient 30 '{"op": "wait", "selector": ".chorus-check [data-action=join]:enabled"}'
web_do patient 5 '{"op": "click", "selector": "[data-action=join]"}'
web_do patient 30 '{"op": "wait", "selector": ".chorus-waiting .chorus-pseudonym"}'
pseudonym=$(web_value "r['text']")
pass "Firefox: the patient passed the device check and waits as $pseudonym"
web_do host 20 '{"op": "wait", "selector": ".chorus-waiting-list [data-action=admit]"}'
web_do patient 10 '{"op": "measure", "tones": [440, 880], "seconds": 3}'
/usr/bin/python3 - "$WEB_RESULT" <<'PY' || fail "the waiting patient received media: $(cat "$WEB_RESULT")"
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["max_db"]["880"] < -100 and r["width"] == 0 else 1)
PY
pass "Firefox: the waiting patient hears and sees nothing of the room"

web_do host 5 '{"op": "click", "selector": ".chorus-waiting-list [data-action=admit]"}'
web_do patient 20 '{"op": "wait", "selector": ".chorus-call .chorus-remote-video"}'
pass "the Chromium host clicked Admit: the Firefox patient is in the consultation"
p=$(web_send patient '{"op": "await_tone", "hz": 880, "above": -70, "hold": 1, "timeout": 40}')
h=$(web_send host '{"op": "await_tone", "hz": 440, "above": -70, "hold": 1, "timeout": 40}')
web_wait patient "$p" 45
web_wait host "$h" 45
web_do patient 30 '{"op": "await_colour", "rgb": [0, 0, 255], "timeout": 25}'
p=$(web_send patient '{"op": "measure", "tones": [440, 880], "seconds": 3}')
h=$(web_send host '{"op": "measure", "tones": [440, 880], "seconds": 3}')
web_wait patient "$p" 10
echo "Firefox patient: $(cat "$WEB_RESULT")"
web_judge_call patient 440 880 0000ff
web_wait host "$h" 10
echo "Chromium host: $(cat "$WEB_RESULT")"
/usr/bin/python3 - "$WEB_RESULT" <<'PY' || fail "the host does not hear the Firefox patient: $(cat "$WEB_RESULT")"
import json, sys
t = json.load(open(sys.argv[1]))["tones_db"]
sys.exit(0 if t["440"] > -70 and t["880"] < t["440"] - 20 else 1)
PY
# Firefox's fake camera is coloured (its colour drifts): the host's view shows it, not the grey
# placeholder of a participant without video.
/usr/bin/python3 - "$WEB_RESULT" <<'PY' || fail "the host does not see the Firefox camera: $(cat "$WEB_RESULT")"
import json, sys
rgb = json.load(open(sys.argv[1]))["rgb"]
sys.exit(0 if rgb and max(rgb) - min(rgb) > 60 else 1)
PY
pass "Firefox patient hears the host (not itself) and sees its blue; the host hears and sees it"

# In Firefox too: the patient leaves, and its link opened again is refused as used; the host
# locks the room, and a new guest link (with the consent a third participant needs) is refused
# as locked. A refused join spends no invitation.
web_do patient 5 '{"op": "click", "selector": "[data-action=leave]"}'
web_do patient 20 '{"op": "wait", "selector": ".chorus-ended"}'
web_mount patient "$patient_link"
web_do patient 30 '{"op": "click", "selector": "[data-action=join]"}'
web_do patient 20 '{"op": "wait", "selector": ".chorus-ended[data-reason=invite_used] h2"}'
[[ $(web_value "r['text']") == *"already been used"* ]] ||
  fail "Firefox: the used link says: $(web_value "r['text']")"
web_do host 5 '{"op": "click", "selector": ".chorus-host [data-action=lock]"}'
web_do host 10 '{"op": "wait", "selector": ".chorus-host [data-action=unlock]"}'
web_mount patient "$(web_invite clinic guest --consent=consent-2024-18)"
web_do patient 30 '{"op": "click", "selector": "[data-action=join]"}'
web_do patient 20 '{"op": "wait", "selector": ".chorus-ended[data-reason=room_locked] h2"}'
[[ $(web_value "r['text']") == *locked* ]] || fail "Firefox: the locked room says: $(web_value "r['text']")"
pass "Firefox: the same link again is refused as used, and a locked room refuses a new link"
