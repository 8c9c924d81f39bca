#!/usr/bin/env bash
# `make run` as a newcomer meets it (scripts/run-dev.sh): it starts Chorus and prints a patient's
# and a clinician's link to a demo room. The two links, opened as they are in two headless
# Chromium tabs (the real /join page; fake devices, each its own tone and colour), talk to each
# other: the patient passes the device check and waits, the clinician lets it in, and each hears
# the other's tone (by FFT in the page) and sees the other's colour. Then Ctrl-C stops it
# cleanly. In a loopback-only network namespace of its own (make run's ports are fixed), with
# the rooms' file in the test's folder.
if [[ -z ${CHORUS_E2E_NETNS:-} ]]; then
  exec unshare --net env CHORUS_E2E_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/tools/web_lib.sh"
command -v chromium >/dev/null || fail "chromium is not installed (scripts/install-deps.sh installs it)"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
build_dir="$(cd "$(dirname "$CHORUSD")/../.." && pwd)"

# In a process group of its own, as in a terminal. (A background job of a script ignores
# SIGINT; a terminal's foreground job does not: restored.)
CHORUS_DEV_STATE="$E2E_WORK/dev.db" setsid /usr/bin/python3 -c '
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$repo/scripts/run-dev.sh" "$build_dir" 47900-47949 47960 \
  >"$E2E_WORK/run.out" 2>"$E2E_WORK/run.log" &
run_pid=$!
E2E_PIDS+=("$run_pid")
for _ in $(seq 600); do
  grep -q "the clinician" "$E2E_WORK/run.out" 2>/dev/null && break
  kill -0 "$run_pid" 2>/dev/null || fail "make run stopped: $(tail -3 "$E2E_WORK/run.log")"
  sleep 0.1
done
patient_link=$(sed -nE 's/^  the patient +(http[^ ]+)$/\1/p' "$E2E_WORK/run.out")
host_link=$(sed -nE 's/^  the clinician +(http[^ ]+)$/\1/p' "$E2E_WORK/run.out")
[[ $patient_link == http://127.0.0.1:47960/join#r=demo\&i=* &&
  $host_link == http://127.0.0.1:47960/join#r=demo\&i=* ]] ||
  fail "make run printed no demo links: $(grep -c join "$E2E_WORK/run.out") lines with /join"
pass "make run printed a patient's and a clinician's link to the demo room"

web_chromium patient 440 ff0000 about:blank --remote-debugging-port=47971
web_chromium host 880 0000ff about:blank --remote-debugging-port=47972

# What the page plays, judged in the page: the remote picture's centre colour, and the tones of
# the remote audio by FFT (an AnalyserNode on the audio element's stream).
colour() {
  echo "(() => { const v = document.querySelector('.chorus-remote-video');
    if (!v || !v.videoWidth) return false;
    const c = document.createElement('canvas'); c.width = 64; c.height = 36;
    const x = c.getContext('2d'); x.drawImage(v, 0, 0, 64, 36);
    const d = x.getImageData(24, 13, 16, 10).data, s = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 3; ++k) s[k] += d[i + k];
    return s.every((t, k) => Math.abs(t / (d.length / 4) - [$1][k]) < 40); })()"
}
hears() {
  echo "(() => { const a = document.querySelector('.chorus-remote-audio');
    if (!a || !a.srcObject || !a.srcObject.getAudioTracks().length) return false;
    if (!window.probe) {
      const ctx = new AudioContext(), an = ctx.createAnalyser();
      an.fftSize = 4096; ctx.createMediaStreamSource(a.srcObject).connect(an);
      window.probe = {ctx, an};
    }
    const {ctx, an} = window.probe, f = new Float32Array(an.frequencyBinCount);
    an.getFloatFrequencyData(f);
    const level = (hz) => f[Math.round(hz * an.fftSize / ctx.sampleRate)];
    return level($1) > -70 && level($2) < level($1) - 20; })()"
}
/usr/bin/python3 - "$E2E_WORK/steps.json" "$patient_link" "$host_link" \
  "$(colour 0,0,255)" "$(colour 255,0,0)" "$(hears 880 440)" "$(hears 440 880)" <<'PY'
import json, sys
out, patient, host, sees_blue, sees_red, hears_host, hears_patient = sys.argv[1:8]
steps = [
    {"page": "patient", "navigate": patient},
    {"page": "patient", "click": "[data-action=join]"},
    {"page": "patient", "until": "document.querySelector('.chorus-waiting .chorus-pseudonym')"},
    {"page": "host", "navigate": host},
    {"page": "host", "click": "[data-action=join]"},
    {"page": "host", "click": ".chorus-waiting-list [data-action=admit]"},
    {"page": "patient", "until": sees_blue, "timeout": 40},
    {"page": "host", "until": sees_red, "timeout": 40},
    {"page": "patient", "until": hears_host, "timeout": 40},
    {"page": "host", "until": hears_patient, "timeout": 40},
]
json.dump({"browsers": {"patient": 47971, "host": 47972}, "steps": steps}, open(out, "w"))
PY
timeout 150 /usr/bin/python3 "$WEB_TOOLS/web_screenshots.py" "$E2E_WORK/steps.json" \
  >"$E2E_WORK/steps.log" 2>&1 || fail "the two tabs: $(tail -3 "$E2E_WORK/steps.log")"
pass "the two links in two tabs: the patient waited, the clinician let it in, each hears the other's tone and sees the other's colour"

# Ctrl-C (SIGINT to the terminal's foreground process group): Chorus stops at once, though calls
# are in progress, and make run ends with status 0.
kill -INT -- "-$run_pid"
for _ in $(seq 300); do
  kill -0 "$run_pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$run_pid" 2>/dev/null && fail "make run did not stop within 30 s of Ctrl-C"
status=0
wait "$run_pid" || status=$?
((status == 0)) || fail "make run ended with status $status after Ctrl-C"
pass "Ctrl-C stopped it cleanly"
