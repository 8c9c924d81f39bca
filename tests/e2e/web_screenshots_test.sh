#!/usr/bin/env bash
# Screenshots of the reference web client, as served by chorusd at /join, in each state a person
# meets: the device check, the waiting room and a consultation on a phone (360x640), the host's
# roster with a patient waiting, the consultation on a laptop, the interpreter's booth, and a used
# link; then the device check in the browser's language (German, Danish, Norwegian, else
# English). On the device check, the host's roster and the booth every visible control must have
# a name a screen reader reads (text, aria-label or a label). Two headless Chromium pages with
# fake devices (a patient's and a clinician's colour), driven through the DevTools protocol (tools/web_screenshots.py, Python's standard library). Each
# picture is checked to exist; with CHORUS_WEB_SCREENSHOTS=DIR they are also copied there (the
# docs/images/web-*.png of docs/web.md come from here).
if [[ -z ${CHORUS_E2E_NETNS:-} ]]; then
  exec unshare --net env CHORUS_E2E_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/tools/web_lib.sh"
for tool in chromium; do
  command -v $tool >/dev/null || fail "$tool is not installed (scripts/install-deps.sh installs it)"
done

web_start_chorusd chorus 46800 http://127.0.0.1:46861
ctl room create consultation --room_id=clinic >/dev/null || fail "room create clinic"
ctl room create meeting --room_id=council --languages=de,ar >/dev/null || fail "room create council"
patient_link=$(web_invite clinic guest)
host_link=$(web_invite clinic host)
interpreter_link=$(web_invite council interpreter --language_pair=de,ar)
listener_link=$(web_invite council guest)
# Calm test-camera colours: the patient's teal, the clinician's sand.
web_chromium patient 440 3b8ea5 about:blank --remote-debugging-port=46881
web_chromium host 880 c9a66b about:blank --remote-debugging-port=46882

shots="$E2E_WORK/shots"
mkdir -p "$shots"
playing='(() => { const v = document.querySelector(".chorus-remote-video");
                  return v && v.videoWidth > 0 && v.currentTime > 1; })()'
self_playing='(() => { const v = document.querySelector(".chorus-self-view, .chorus-preview");
                       return v && v.videoWidth > 0 && v.currentTime > 0.5; })()'
# Every visible control has a name a screen reader reads: its text, aria-label, or a label.
unnamed='[...document.querySelectorAll(".chorus button, .chorus select, .chorus input")]
  .filter((e) => e.offsetParent !== null)
  .filter((e) => !((e.getAttribute("aria-label") || e.textContent || "").trim() ||
                   (e.labels && e.labels.length && e.labels[0].textContent.trim()) ||
                   e.getAttribute("aria-labelledby")))'
/usr/bin/python3 - "$E2E_WORK/steps.json" "$shots" "$patient_link" "$host_link" \
  "$interpreter_link" "$listener_link" "$playing" "$self_playing" "$unnamed" <<'PY'
import json, sys
out, shots, patient, host, interpreter, listener, playing, self_playing, unnamed = sys.argv[1:10]
def labelled(page):
    controls = ('[...document.querySelectorAll(".chorus button, .chorus select")]'
                '.filter((e) => e.offsetParent !== null).length')
    return {"page": page, "until": f"{controls} >= 2 && ({unnamed}).length === 0",
            "show": f"JSON.stringify(({unnamed}).map((e) => e.outerHTML.slice(0, 80)))"}
phone, laptop = [360, 640, 2, True], [1280, 800, 1, False]
steps = [
    {"page": "patient", "viewport": phone},
    {"page": "patient", "navigate": patient},
    {"page": "patient", "until": "document.querySelector('[data-action=join]:enabled')"},
    # Interactive within a second of the navigation (the browser's own measure: the document
    # parsed and its scripts run, DOMContentLoaded handled); and, for information, when the
    # Join button was seen enabled, after the camera and microphone opened (taken at the first
    # look that found it, so late by up to a look's 200 ms).
    {"page": "patient", "measure":
         "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd", "max": 1000,
     "what": "ms from navigation to an interactive page"},
    {"page": "patient", "measure": "performance.now()", "max": 5000,
     "what": "ms from navigation to an enabled Join button, devices open"},
    # The token left the address bar (and history) at once.
    {"page": "patient", "until": "location.hash === '' && location.pathname === '/join'"},
    {"page": "patient", "until": self_playing},
    {"page": "patient", "until": "document.querySelector('.chorus-meter-bar').style.transform "
                                 "> 'scaleX(0.3'"},
    {"page": "patient", "shot": f"{shots}/web-device-check.png"},
    labelled("patient"),
    {"page": "host", "viewport": laptop},
    {"page": "host", "navigate": host},
    {"page": "host", "click": "[data-action=join]"},
    {"page": "host", "until": "document.querySelector('.chorus-call .chorus-host')"},
    {"page": "patient", "click": "[data-action=join]"},
    {"page": "patient", "until": "document.querySelector('.chorus-waiting .chorus-pseudonym')"},
    {"page": "patient", "until": self_playing},
    {"page": "patient", "shot": f"{shots}/web-waiting-room.png"},
    {"page": "host", "until": "document.querySelector('.chorus-waiting-list [data-action=admit]')"},
    {"page": "host", "until": self_playing},
    {"page": "host", "shot": f"{shots}/web-host-waiting.png"},
    labelled("host"),
    {"page": "host", "click": ".chorus-waiting-list [data-action=admit]"},
    {"page": "patient", "until": playing, "timeout": 30},
    {"page": "host", "until": playing, "timeout": 30},
    {"page": "patient", "shot": f"{shots}/web-consultation-phone.png"},
    {"page": "host", "shot": f"{shots}/web-consultation.png"},
    {"page": "patient", "viewport": laptop},
    {"page": "host", "navigate": interpreter},
    {"page": "patient", "navigate": listener},
    {"page": "host", "click": "[data-action=join]"},
    {"page": "patient", "click": "[data-action=join]"},
    {"page": "host", "click": ".chorus-booth [data-action=speak][data-language=ar]"},
    {"page": "host", "until": "document.querySelector('.chorus-booth [data-air=on]')"},
    {"page": "host", "until": "document.querySelectorAll('.chorus-people .chorus-person').length == 2"},
    {"page": "host", "until": playing, "timeout": 30},
    {"page": "host", "shot": f"{shots}/web-interpreter.png"},
    labelled("host"),
    {"page": "patient", "viewport": phone},
    {"page": "patient", "navigate": patient},
    {"page": "patient", "click": "[data-action=join]"},
    {"page": "patient", "until": "document.querySelector('.chorus-ended h2')"},
    {"page": "patient", "shot": f"{shots}/web-ended.png"},
]
# The page speaks the first of the browser's languages it has (German, Danish, Norwegian,
# English), English otherwise; the document's language follows (for screen readers).
# (The list as navigator.languages has it, most preferred first.)
for languages, join, lang in [("de-DE,de,en", "Teilnehmen", "de"),
                              ("da-DK,da", "Deltag", "da"),
                              ("nb-NO,nb,no", "Bli med", "nb"),
                              ("fr-FR,fr,nb", "Bli med", "nb"),
                              ("fr-FR,fr", "Join", "en")]:
    steps += [
        {"page": "patient", "languages": languages},
        {"page": "patient", "navigate": patient},
        {"page": "patient", "until": "(() => { const b = document.querySelector("
                                     "'[data-action=join]'); return b && "
                                     f"b.textContent.startsWith({json.dumps(join)}) && "
                                     f"document.documentElement.lang === {json.dumps(lang)}; }})()",
         "show": "JSON.stringify([navigator.languages, document.documentElement.lang, "
                 "(document.querySelector('[data-action=join]') || {}).textContent])"},
    ]
steps.append({"page": "patient", "languages": "en-US,en"})
json.dump({"browsers": {"patient": 46881, "host": 46882}, "steps": steps}, open(out, "w"))
PY
timeout 150 /usr/bin/python3 "$WEB_TOOLS/web_screenshots.py" "$E2E_WORK/steps.json" \
  >"$E2E_WORK/screenshots.log" 2>&1 || fail "screenshots: $(tail -3 "$E2E_WORK/screenshots.log")"
while read -r line; do pass "$line"; done < <(grep '^measured' "$E2E_WORK/screenshots.log")
pass "every visible control has a name a screen reader reads (device check, host's roster, interpreter's booth)"
pass "the page speaks the browser's language: German, Danish, Norwegian, else English"
for shot in device-check waiting-room host-waiting consultation-phone consultation interpreter \
  ended; do
  file="$shots/web-$shot.png"
  [[ $(head -c 8 "$file" 2>/dev/null | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] ||
    fail "no picture of $shot"
  pass "web-$shot.png: $(stat -c %s "$file") bytes"
done
if [[ -n ${CHORUS_WEB_SCREENSHOTS:-} ]]; then
  cp "$shots"/web-*.png "$CHORUS_WEB_SCREENSHOTS/" || fail "cannot copy to $CHORUS_WEB_SCREENSHOTS"
  pass "copied to $CHORUS_WEB_SCREENSHOTS"
fi
