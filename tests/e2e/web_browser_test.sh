#!/usr/bin/env bash
# The reference web client (web/) in headless Chromium, end to end, the way a patient, a clinician
# and an interpreter use it: chorusd serves the client and its signalling WebSocket (--web_listen);
# a platform page on another origin (tools/web_harness.py, allowed with --web_allowed_origins)
# loads chorusd's /chorus.js and /app.js, mounts the real client, clicks its buttons and measures
# what its own media elements play (tones by FFT, colours of the composed view). Each Chromium's
# fake microphone plays its own tone and its fake camera shows its own colour.
#   1. A patient opens its link into a consultation with a lobby: device check, then the waiting
#      room, where nothing reaches it. The host (its own link) sees it waiting and admits it; then
#      each hears the other's tone (not its own) and sees the other's colour. The patient shares
#      its screen (renegotiated) and stops; the host mutes and unmutes it; the patient mutes and
#      unmutes itself; a network outage is survived; media lost with the signalling up is
#      restored by an ICE restart.
#   2. The same patient link opened again, in a browser whose camera and microphone are refused:
#      the device check says so, then "already used". The patient's camera goes off and on. A
#      visitor with consent is denied, then admitted (its consent reference shown to the host)
#      and removed. The host locks the room: a new guest link is refused as locked. The host
#      ends the consultation (with confirmation): both see that it has ended.
#   3. Interpretation: an interpreter (de/ar) sees its booth and speaks into German; a listener of
#      Arabic does not hear it; the interpreter switches to Arabic, goes on air, and the listener
#      hears it; a floor listener never does. The interpreter hears the floor, switches direction
#      into the floor and back; a second interpreter takes over from its page; a listener pins
#      the interpreter's camera large.
if [[ -z ${CHORUS_E2E_NETNS:-} ]]; then
  exec unshare --net env CHORUS_E2E_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/tools/web_lib.sh"
command -v chromium >/dev/null || fail "chromium is not installed (scripts/install-deps.sh installs it)"
command -v nft >/dev/null || fail "nft is not installed (scripts/install-deps.sh installs nftables)"

web_start_harness 46861
web_start_chorusd chorus 46800 "$HARNESS_URL"

# The patient (440 Hz, red) and the clinician (880 Hz, blue) open their links.
ctl room create consultation --room_id=clinic >/dev/null || fail "room create clinic"
patient_link=$(web_invite clinic guest)
host_link=$(web_invite clinic host)
[[ $patient_link == "$WEB_URL/join#r=clinic&i="* ]] || fail "unexpected link: ${patient_link%%&i=*}"
web_chromium patient 440 ff0000
web_chromium host 880 0000ff
web_ready patient 30
web_ready host 30

web_mount patient "$patient_link"
web_do patient 20 '{"op": "wait", "selector": ".chorus-check [data-action=join]:enabled"}'
web_do patient 5 '{"op": "wait", "selector": ".chorus-preview"}'
web_do patient 5 '{"op": "click", "selector": "[data-action=join]"}'
web_do patient 20 '{"op": "wait", "selector": ".chorus-waiting .chorus-pseudonym"}'
pseudonym=$(web_value "r['text']")
[[ $pseudonym == Guest* ]] || fail "the waiting room shows no pseudonym: '$pseudonym'"
pass "the patient passed the device check and waits in the waiting room as $pseudonym"

web_mount host "$host_link"
web_do host 5 '{"op": "click", "selector": "[data-action=join]"}'
web_do host 20 '{"op": "wait", "selector": ".chorus-call .chorus-host"}'
web_do host 20 '{"op": "wait", "selector": ".chorus-waiting-list [data-action=admit]"}'
web_do host 5 '{"op": "texts", "selector": ".chorus-waiting-list .chorus-person-name"}'
[[ $(web_value "r['texts']") == "['$pseudonym']" ]] ||
  fail "the host's waiting list: $(web_value "r['texts']"), expected $pseudonym"
pass "the host sees $pseudonym waiting, first in its roster, with Admit and Deny"

# In the waiting room nothing of the room reaches the patient: 3 s of silence and no picture,
# while the host talks.
web_do patient 10 '{"op": "measure", "tones": [440, 880], "seconds": 3}'
/usr/bin/python3 - "$WEB_RESULT" <<'PY' || fail "the waiting patient received media: $(cat "$WEB_RESULT")"
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["max_db"]["880"] < -100 and r["width"] == 0 else 1)
PY
pass "the waiting patient hears and sees nothing of the room"

web_do host 5 '{"op": "click", "selector": ".chorus-waiting-list [data-action=admit]"}'
web_do patient 20 '{"op": "wait", "selector": ".chorus-call .chorus-remote-video"}'
pass "the host clicked Admit: the patient is in the consultation"
p=$(web_send patient '{"op": "await_tone", "hz": 880, "above": -70, "hold": 1, "timeout": 30}')
h=$(web_send host '{"op": "await_tone", "hz": 440, "above": -70, "hold": 1, "timeout": 30}')
web_wait patient "$p" 35
web_wait host "$h" 35
p=$(web_send patient '{"op": "await_colour", "rgb": [0, 0, 255], "timeout": 20}')
h=$(web_send host '{"op": "await_colour", "rgb": [255, 0, 0], "timeout": 20}')
web_wait patient "$p" 25
web_wait host "$h" 25
p=$(web_send patient '{"op": "measure", "tones": [440, 880], "seconds": 3}')
h=$(web_send host '{"op": "measure", "tones": [440, 880], "seconds": 3}')
web_wait patient "$p" 10
echo "patient: $(cat "$WEB_RESULT")"
web_judge_call patient 440 880 0000ff
web_wait host "$h" 10
echo "host: $(cat "$WEB_RESULT")"
web_judge_call host 880 440 ff0000
pass "patient and host hear each other's tone (not their own) and see each other's colour"

# The patient shares its screen (a second video section, renegotiated with update_media): the
# host sees it large instead of the patient's red camera, and the call goes on (the host still
# hears the patient); the share stops and the red camera is back.
web_do patient 10 '{"op": "click", "selector": "[data-action=share]"}'
web_do patient 20 '{"op": "wait", "selector": "[data-action=share][aria-pressed=true]"}'
web_do host 20 '{"op": "await_colour", "rgb": [255, 0, 0], "away": true}'
web_do host 10 '{"op": "measure", "tones": [440, 880], "seconds": 3}'
echo "host while the patient shares: $(cat "$WEB_RESULT")"
/usr/bin/python3 - "$WEB_RESULT" <<'PY' || fail "the host lost the patient while it shares: $(cat "$WEB_RESULT")"
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["median_db"]["440"] > -70 else 1)
PY
web_do patient 10 '{"op": "click", "selector": "[data-action=share]"}'
web_do patient 20 '{"op": "wait", "selector": "[data-action=share][aria-pressed=false]"}'
web_do host 20 '{"op": "await_colour", "rgb": [255, 0, 0]}'
pass "the patient shared its screen: the host saw it large, heard the patient, then the camera again"

# The host mutes the patient (for everyone): the patient is told, the host no longer hears it;
# unmuted, it is heard again.
web_do host 5 '{"op": "click", "selector": ".chorus-people [data-action=mute]"}'
web_do patient 10 '{"op": "wait", "selector": ".chorus-panels .chorus-notice"}'
[[ $(web_value "r['text']") == *"muted your microphone"* ]] ||
  fail "the muted patient is told: $(web_value "r['text']")"
web_do host 15 '{"op": "await_tone", "hz": 440, "below": -90, "hold": 1}'
web_do host 5 '{"op": "click", "selector": ".chorus-people [data-action=unmute]"}'
web_do host 15 '{"op": "await_tone", "hz": 440, "above": -70, "hold": 1}'
pass "the host muted the patient (told, not heard) and unmuted it (heard again)"

# The patient mutes itself, through its own session: the host's roster shows it muted (Unmute
# offered) and the host no longer hears it; the patient is not told a clinician muted it.
# Unmuted from its own page, it is heard again.
web_do patient 5 '{"op": "click", "selector": ".chorus-call [data-action=mic]"}'
web_do host 10 '{"op": "wait", "selector": ".chorus-people [data-action=unmute]"}'
web_do host 15 '{"op": "await_tone", "hz": 440, "below": -90, "hold": 1}'
web_do patient 5 '{"op": "gone", "selector": ".chorus-panels .chorus-notice"}'
web_do patient 5 '{"op": "click", "selector": ".chorus-call [data-action=mic][aria-pressed=true]"}'
web_do host 10 '{"op": "wait", "selector": ".chorus-people [data-action=mute]"}'
web_do host 15 '{"op": "await_tone", "hz": 440, "above": -70, "hold": 1}'
pass "the patient muted itself (shown muted in the host's roster, not heard) and unmuted itself"

# A network outage: the loopback, the only network here, is down for 15 s (packets vanish, as
# on a lost Wi-Fi). The clients notice (ICE disconnected, or failed), say "Reconnecting…" and
# restart ICE with a new offer through update_media (once the signalling's TCP connection gets
# through again); then the call goes on: each hears the other again, and the notice is gone.
p=$(web_send patient '{"op": "wait", "selector": ".chorus-connection", "timeout": 40}')
web_started patient "$p" 10
ip link set lo down
sleep 15  # the outage itself
ip link set lo up
web_wait patient "$p" 45
[[ $(web_value "r['text']") == Reconnecting* ]] || fail "the outage shows: $(web_value "r['text']")"
p=$(web_send patient '{"op": "await_tone", "hz": 880, "above": -70, "hold": 1, "timeout": 40}')
h=$(web_send host '{"op": "await_tone", "hz": 440, "above": -70, "hold": 1, "timeout": 40}')
web_wait patient "$p" 45
web_wait host "$h" 45
web_do patient 20 '{"op": "gone", "selector": ".chorus-connection"}'
pass "a 15 s network outage: \"Reconnecting…\", and the call went on"

# The media path alone is lost (UDP dropped; the signalling's TCP stays up): the client restarts
# ICE through update_media once ICE has been disconnected for 4 s (the browser's own local
# description gets new ICE credentials, and so does the node's answer); when UDP is back, the
# call goes on over the restarted ICE.
web_do patient 5 '{"op": "ice_credentials"}'
ice_before=$(web_value "r['local'] + ' ' + r['remote']")
[[ $ice_before =~ ^[^\ ]+\ [^\ ]+$ ]] || fail "no ICE credentials in the patient's descriptions"
nft -f - <<'NFT' || fail "nft: cannot drop UDP"
table inet chorus_outage {
  chain input { type filter hook input priority 0; meta l4proto udp drop; }
}
NFT
web_do patient 40 "{\"op\": \"await_ice_change\", \"local\": \"${ice_before%% *}\", \"timeout\": 35}"
nft delete table inet chorus_outage
p=$(web_send patient '{"op": "await_tone", "hz": 880, "above": -70, "hold": 1, "timeout": 40}')
h=$(web_send host '{"op": "await_tone", "hz": 440, "above": -70, "hold": 1, "timeout": 40}')
web_wait patient "$p" 45
web_wait host "$h" 45
web_do patient 5 '{"op": "ice_credentials"}'
/usr/bin/python3 - "$WEB_RESULT" "$ice_before" <<'PY' || fail "the node's answer kept its ICE credentials"
import json, sys
r = json.load(open(sys.argv[1]))
before_local, before_remote = sys.argv[2].split(" ")
sys.exit(0 if r["local"] != before_local and r["remote"] and r["remote"] != before_remote else 1)
PY
pass "UDP lost with the signalling up: the client restarted ICE (new credentials both ways) and the call went on"

# The patient's link again, in another browser whose camera and microphone are refused: the
# device check says so and offers to join without them; then the link is refused as used.
web_chromium visitor denied -
web_ready visitor 30
web_mount visitor "$patient_link"
web_do visitor 20 '{"op": "wait", "selector": ".chorus-check .chorus-message"}'
[[ $(web_value "r['text']") == *"does not allow this page to use your camera"* ]] ||
  fail "the refused camera is not explained: $(web_value "r['text']")"
web_do visitor 5 '{"op": "wait", "selector": "[data-action=join]:enabled"}'
[[ $(web_value "r['text']") == "Join without camera and microphone" ]] ||
  fail "the join button says: $(web_value "r['text']")"
pass "refused camera and microphone: \"$(web_value "r['text']")\" is offered"
web_do visitor 5 '{"op": "click", "selector": "[data-action=join]"}'
web_do visitor 20 '{"op": "wait", "selector": ".chorus-ended[data-reason=invite_used] h2"}'
[[ $(web_value "r['text']") == *"already been used"* ]] ||
  fail "the used link says: $(web_value "r['text']")"
pass "the same patient link opened again: \"$(web_value "r['text']")\""

# The patient turns its camera off (the host sees black instead of its red) and on again.
web_do patient 5 '{"op": "click", "selector": ".chorus-call [data-action=camera]"}'
web_do host 20 '{"op": "await_colour", "rgb": [0, 0, 0], "timeout": 20}'
web_do patient 5 '{"op": "click", "selector": ".chorus-call [data-action=camera]"}'
web_do host 20 '{"op": "await_colour", "rgb": [255, 0, 0], "timeout": 20}'
pass "the patient turned its camera off (black at the host) and on (red again)"

# A third participant (the visitor's browser, joining without devices, on an invite carrying the
# patient's consent) waits; the host clicks Deny: the visitor is told it was not let in. On
# another such invite it waits again; the host admits it and is shown the consent reference,
# then clicks Remove: the visitor is told it was removed.
web_mount visitor "$(web_invite clinic guest --consent=consent-2024-15)"
web_do visitor 5 '{"op": "click", "selector": "[data-action=join]"}'
web_do visitor 20 '{"op": "wait", "selector": ".chorus-waiting .chorus-pseudonym"}'
web_do host 20 '{"op": "click", "selector": ".chorus-waiting-list [data-action=deny]"}'
web_do visitor 20 '{"op": "wait", "selector": ".chorus-ended[data-reason=denied] h2"}'
[[ $(web_value "r['text']") == *"not let in"* ]] || fail "the denied visitor is told: $(web_value "r['text']")"
web_mount visitor "$(web_invite clinic guest --consent=consent-2024-16)"
web_do visitor 5 '{"op": "click", "selector": "[data-action=join]"}'
web_do visitor 20 '{"op": "wait", "selector": ".chorus-waiting .chorus-pseudonym"}'
web_do host 20 '{"op": "click", "selector": ".chorus-waiting-list [data-action=admit]"}'
web_do visitor 20 '{"op": "wait", "selector": ".chorus-call .chorus-remote-video"}'
web_do host 20 '{"op": "wait", "selector": ".chorus-consent"}'
web_do host 5 '{"op": "texts", "selector": ".chorus-consent"}'
[[ $(web_value "r['texts']") == *consent-2024-16* ]] ||
  fail "the host is not shown the consent reference: $(web_value "r['texts']")"
web_do host 10 '{"op": "click", "selector": ".chorus-people li:last-child [data-action=remove]"}'
web_do visitor 20 '{"op": "wait", "selector": ".chorus-ended[data-reason=removed] h2"}'
[[ $(web_value "r['text']") == *removed* ]] || fail "the removed visitor is told: $(web_value "r['text']")"
pass "the host denied a waiting visitor and removed an admitted one (shown its consent reference); each was told"

# The host locks the room: a new guest link (with consent, as a third participant needs) is
# refused as locked.
web_do host 5 '{"op": "click", "selector": ".chorus-host [data-action=lock]"}'
web_do host 10 '{"op": "wait", "selector": ".chorus-host [data-action=unlock]"}'
web_mount visitor "$(web_invite clinic guest --consent=consent-2024-17)"
web_do visitor 5 '{"op": "click", "selector": "[data-action=join]"}'
web_do visitor 20 '{"op": "wait", "selector": ".chorus-ended[data-reason=room_locked] h2"}'
[[ $(web_value "r['text']") == *locked* ]] || fail "the locked room says: $(web_value "r['text']")"
pass "the host clicked Lock: a new guest link is refused: \"$(web_value "r['text']")\""

# The host ends the consultation, confirming it: both see that it has ended.
web_do host 5 '{"op": "click", "selector": ".chorus-host [data-action=end]"}'
web_do host 5 '{"op": "click", "selector": ".chorus-host [data-action=end-confirm]"}'
web_do patient 15 '{"op": "wait", "selector": ".chorus-ended[data-reason=room_closed] h2"}'
web_do host 15 '{"op": "wait", "selector": ".chorus-ended[data-reason=room_closed] h2"}'
pass "the host ended the consultation (confirmed): patient and host see \"$(web_value "r['text']")\""

# Interpretation. The interpreter (1200 Hz) speaks German, then Arabic; the patient's browser
# listens to Arabic, the host's to the floor.
ctl room create meeting --room_id=council --languages=de,ar >/dev/null || fail "room create council"
web_chromium interpreter 1200 00ff00
web_ready interpreter 30
web_mount interpreter "$(web_invite council interpreter --language_pair=de,ar)"
web_mount patient "$(web_invite council guest)"
web_mount host "$(web_invite council guest)"
for page in interpreter patient host; do
  web_do $page 20 '{"op": "click", "selector": "[data-action=join]"}'
done
web_do interpreter 20 '{"op": "wait", "selector": ".chorus-booth [data-action=speak][data-language=de]"}'
web_do interpreter 5 '{"op": "click", "selector": ".chorus-booth [data-action=speak][data-language=de]"}'
web_do interpreter 10 '{"op": "wait", "selector": ".chorus-booth [data-air=on]"}'
pass "the interpreter sees its booth, speaks into German and is on air"
web_do patient 20 '{"op": "select", "selector": ".chorus-listen select", "value": "ar"}'
web_do host 20 '{"op": "wait", "selector": ".chorus-call .chorus-listen select"}'
# The patient hears the floor (the host) under the silent Arabic channel, not the German one.
web_do patient 35 '{"op": "await_tone", "hz": 880, "above": -70, "hold": 1, "timeout": 30}'
web_do patient 10 '{"op": "measure", "tones": [880, 1200], "seconds": 3}'
echo "patient on Arabic, interpreter on German: $(cat "$WEB_RESULT")"
/usr/bin/python3 - "$WEB_RESULT" <<'PY' || fail "the Arabic listener hears the German channel: $(cat "$WEB_RESULT")"
import json, sys
t = json.load(open(sys.argv[1]))["tones_db"]
sys.exit(0 if t["1200"] < t["880"] - 20 else 1)
PY
web_do interpreter 5 '{"op": "click", "selector": ".chorus-booth [data-action=speak][data-language=ar]"}'
web_do interpreter 10 '{"op": "wait", "selector": ".chorus-booth [data-language=ar][aria-pressed=true]"}'
web_do interpreter 10 '{"op": "wait", "selector": ".chorus-booth [data-air=on]"}'
web_do patient 35 '{"op": "await_tone", "hz": 1200, "above": -70, "hold": 1, "timeout": 30}'
p=$(web_send patient '{"op": "measure", "tones": [440, 880, 1200], "seconds": 3}')
h=$(web_send host '{"op": "measure", "tones": [440, 880, 1200], "seconds": 3}')
web_wait patient "$p" 10
echo "patient on Arabic, interpreter on Arabic: $(cat "$WEB_RESULT")"
/usr/bin/python3 - "$WEB_RESULT" <<'PY' || fail "the Arabic listener does not hear the interpreter: $(cat "$WEB_RESULT")"
import json, sys
t = json.load(open(sys.argv[1]))["tones_db"]
sys.exit(0 if t["1200"] > -70 and t["440"] < t["1200"] - 20 else 1)
PY
web_wait host "$h" 10
echo "host on the floor: $(cat "$WEB_RESULT")"
# (The patient's tone reaches the floor with short gaps in this room, about a fifth of the
# samples: judged by the median.)
web_judge_heard 440 1200 || fail "the floor hears the Arabic channel: $(cat "$WEB_RESULT")"
pass "the interpreter switched to Arabic: the Arabic listener hears it, the floor does not"

# The interpreter hears the floor (the host), never itself.
web_do interpreter 10 '{"op": "measure", "tones": [880, 1200], "seconds": 3}'
echo "the interpreter hears: $(cat "$WEB_RESULT")"
web_judge_heard 880 1200 || fail "the interpreter does not hear the floor: $(cat "$WEB_RESULT")"
pass "the interpreter on air hears the floor and not itself"

# Direction: the interpreter turns to the floor (as when the Arabic speaker talks): the floor
# listener hears it; back into Arabic.
web_do interpreter 5 '{"op": "click", "selector": ".chorus-booth [data-action=speak][data-language=\"\"]"}'
web_do interpreter 10 '{"op": "wait", "selector": ".chorus-booth [data-air=floor]"}'
web_do host 35 '{"op": "await_tone", "hz": 1200, "above": -70, "hold": 1, "timeout": 30}'
web_do interpreter 5 '{"op": "click", "selector": ".chorus-booth [data-action=speak][data-language=ar]"}'
web_do interpreter 10 '{"op": "wait", "selector": ".chorus-booth [data-air=on]"}'
pass "the interpreter switched direction into the floor (the floor heard it) and back into Arabic"

# Hand over: the host's page leaves and comes back as the booth's second interpreter (880 Hz).
# Into Arabic it is on standby (the first is on air); it clicks Take over: it is on air, the
# first interpreter on standby, and the Arabic listener hears the second, not the first.
web_do host 5 '{"op": "click", "selector": ".chorus-call [data-action=leave]"}'
web_do host 15 '{"op": "wait", "selector": ".chorus-ended"}'
web_mount host "$(web_invite council interpreter --language_pair=de,ar)"
web_do host 20 '{"op": "click", "selector": "[data-action=join]"}'
web_do host 20 '{"op": "click", "selector": ".chorus-booth [data-action=speak][data-language=ar]"}'
web_do host 10 '{"op": "wait", "selector": ".chorus-booth [data-air=standby]"}'
web_do host 5 '{"op": "click", "selector": ".chorus-booth [data-action=hand_over]"}'
web_do host 10 '{"op": "wait", "selector": ".chorus-booth [data-air=on]"}'
web_do interpreter 10 '{"op": "wait", "selector": ".chorus-booth [data-air=standby]"}'
web_do patient 35 '{"op": "await_tone", "hz": 880, "above": -70, "hold": 1, "timeout": 30}'
web_do patient 10 '{"op": "measure", "tones": [880, 1200], "seconds": 3}'
echo "the Arabic listener after the hand-over: $(cat "$WEB_RESULT")"
web_judge_heard 880 1200 || fail "the hand-over did not reach the listener: $(cat "$WEB_RESULT")"
pass "the second interpreter took over from its page: on air, the first on standby, the listener hears it"

# A deaf participant pins the (sign-language) interpreter from the roster: its view shows the
# interpreter's camera (green) large; unpinned, the room's layout again.
web_do patient 10 '{"op": "wait", "selector": ".chorus-people [data-action=pin]"}'
web_do patient 5 '{"op": "texts", "selector": ".chorus-people [data-role=interpreter] .chorus-tags"}'
[[ $(web_value "r['texts'][0]") == *"interpreter (German – Arabic)"* ]] ||
  fail "the roster does not name the interpreter's languages: $(web_value "r['texts']")"
web_do patient 5 '{"op": "click", "selector": ".chorus-people [data-role=interpreter] [data-action=pin]"}'
web_do patient 20 '{"op": "await_colour", "rgb": [0, 255, 0], "timeout": 20}'
web_do patient 5 '{"op": "click", "selector": ".chorus-people [data-action=unpin]"}'
web_do patient 20 '{"op": "await_colour", "rgb": [0, 255, 0], "away": true, "timeout": 20}'
pass "the patient pinned the interpreter: its camera large in the patient's view; unpinned, the layout again"
