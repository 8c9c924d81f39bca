#!/usr/bin/env bash
# Firefox joins over WebRTC next to Chromium: the scenario of webrtc_browser_test.sh with Debian's
# firefox-esr, headless, as one participant. In a network namespace that has only loopback, a
# platform backend stand-in serves the page and joins it through the public API with the
# browser's own SDP offer. Three participants in one room: a Firefox page and a Chromium page,
# each sending a tone (WebAudio oscillator) and a solid colour (canvas camera), and an ffmpeg SRTP
# client sending 660 Hz. Each page judges what it receives in the page itself: tone levels by FFT
# (AnalyserNode) and the colour at the centre of its view. Each must hear the two others and not
# itself, and see the other page's colour.
#
# What Firefox needs to connect here (chorusd runs with --dev on loopback, as in the Chromium
# test): host candidates on loopback, which it gathers only with the testing pref
# media.peerconnection.ice.loopback; and all of its host addresses rather than only the one of
# the default route (there is none here), which it gathers only for a page that captures a
# camera or microphone: the page holds a fake camera (capture=1, with media.navigator.streams.fake
# and media.navigator.permission.fake), as a real consultation page holds the real one.
if [[ -z ${CHORUS_E2E_NETNS:-} ]]; then
  exec unshare --net env CHORUS_E2E_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
TOOLS="$(cd "$(dirname "$0")/tools" && pwd)"
for browser in chromium firefox-esr; do
  command -v $browser >/dev/null ||
    fail "$browser is not installed (scripts/install-deps.sh installs it)"
done
# Whatever the browsers and the backend leave in TMPDIR goes with the scratch folder.
export TMPDIR="$E2E_WORK/tmp"
mkdir -p "$TMPDIR" "$E2E_WORK/results"

# Each browser runs under `timeout`, which leads a process group of its own: on exit, every
# browser process is asked to end and waited for (at most 10 s) before lib.sh's cleanup removes
# the scratch folder their profiles are in.
BROWSER_GROUPS=()
group_alive() {
  ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'
}
stop_browsers() {
  local group alive
  for group in "${BROWSER_GROUPS[@]}"; do kill -TERM -- "-$group" 2>/dev/null || true; done
  for _ in $(seq 100); do
    alive=0
    for group in "${BROWSER_GROUPS[@]}"; do if group_alive "$group"; then alive=1; fi; done
    ((alive)) || return 0
    sleep 0.1
  done
  for group in "${BROWSER_GROUPS[@]}"; do kill -KILL -- "-$group" 2>/dev/null || true; done
}
trap 'stop_browsers || true; e2e_cleanup' EXIT

start_chorusd chorus all --dev --grpc_listen=127.0.0.1:46670 --http_listen=127.0.0.1:46671 \
  --media_port_min=46600 --media_port_max=46649 --webrtc_port=46650 --media_workers=1 \
  --video_workers=1
/usr/bin/python3 "$TOOLS/webrtc_backend.py" --listen=127.0.0.1:46660 --server="$GRPC_ADDR" \
  --out_dir="$E2E_WORK/results" >"$E2E_WORK/backend.out" 2>"$E2E_WORK/backend.log" &
E2E_PIDS+=($!)
for _ in $(seq 100); do
  grep -q listening "$E2E_WORK/backend.out" 2>/dev/null && break
  sleep 0.1
done
grep -q listening "$E2E_WORK/backend.out" || fail "the backend did not start"
token() { ctl invite create "$1" "$2" | sed -E 's/.*token=//'; }

# page_url NAME ROOM TONE COLOUR LISTEN SECONDS [EXTRA_QUERY]: the test page of one participant.
page_url() {
  local name=$1 room=$2 tone=$3 colour=$4 listen=$5 seconds=$6 extra=${7:-} invite
  invite=$(token "$room" guest) || fail "invite $name"
  local url="http://127.0.0.1:46660/?name=$name&room=$room&token=$invite"
  url+="&tone=$tone&colour=$colour&listen=$listen&seconds=$seconds$extra"
  echo "$url${CHORUS_E2E_DEBUG:+&debug=1}"
}
# chromium_page NAME ROOM TONE COLOUR LISTEN SECONDS [EXTRA_QUERY]: a headless Chromium on the
# test page.
chromium_page() {
  local url
  url=$(page_url "$@")
  mkdir -p "$E2E_WORK/chromium-$1"
  HOME="$E2E_WORK/chromium-$1" timeout 90 chromium --headless=new --no-sandbox --disable-gpu \
    --no-first-run --disable-background-networking --disable-component-update --disable-sync \
    --disable-default-apps --mute-audio --autoplay-policy=no-user-gesture-required \
    --allow-loopback-in-peer-connection --disable-features=WebRtcHideLocalIpsWithMdns \
    --user-data-dir="$E2E_WORK/chromium-$1" "$url" >"$E2E_WORK/$1.browser.txt" 2>&1 &
  E2E_PIDS+=($!)
  BROWSER_GROUPS+=($!)
}
# firefox_page NAME ROOM TONE COLOUR LISTEN SECONDS [EXTRA_QUERY]: a headless Firefox ESR, in a
# fresh profile, on the test page (holding a fake camera: capture=1).
firefox_page() {
  local url profile="$E2E_WORK/firefox-$1"
  url="$(page_url "$@")&capture=1"
  mkdir -p "$profile"
  cat >"$profile/user.js" <<'PREFS'
// WebAudio without a sound server; media without prompts or autoplay blocking.
user_pref("media.cubeb.force_mock_context", true);
user_pref("media.autoplay.default", 0);
user_pref("media.autoplay.blocking_policy", 0);
user_pref("media.autoplay.block-webaudio", false);
// getUserMedia answers at once with a fake camera, which counts as capturing: Firefox then
// gathers every host address, not only the default route's (this namespace has no route).
user_pref("media.navigator.permission.disabled", true);
user_pref("media.navigator.streams.fake", true);
user_pref("media.navigator.permission.fake", true);
// ICE: loopback host candidates (the namespace has nothing else), as addresses, not mDNS names.
user_pref("media.peerconnection.enabled", true);
user_pref("media.peerconnection.ice.loopback", true);
user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);
// A quiet first start: no first-run pages, updates, telemetry or default-browser check.
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.disabledForTesting", true);
PREFS
  HOME="$profile" MOZ_CRASHREPORTER_DISABLE=1 timeout 90 firefox-esr --headless --no-remote \
    --profile "$profile" "$url" >"$E2E_WORK/$1.browser.txt" 2>&1 &
  E2E_PIDS+=($!)
  BROWSER_GROUPS+=($!)
}
# wait_joined COUNT SECONDS NAME: waits until COUNT participants have joined (NAME the last).
wait_joined() {
  local joined
  for _ in $(seq $(($2 * 10))); do
    joined=$(grep -c '"event":"participant_joined"' "$E2E_WORK/chorus.log" || true)
    ((joined >= $1)) && return 0
    sleep 0.1
  done
  fail "$3 did not join within $2 s ($(tail -5 "$E2E_WORK/$3.browser.txt"))"
}
# wait_result NAME SECONDS: waits for the page's measurements.
wait_result() {
  local file="$E2E_WORK/results/$1.json"
  for _ in $(seq $(($2 * 10))); do [[ -s $file ]] && return 0; sleep 0.1; done
  fail "$1: no result from the page within $2 s ($(tail -5 "$E2E_WORK/$1.browser.txt"))"
}
# page_value NAME EXPR: a value from the page's JSON result.
page_value() {
  /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" \
    "$E2E_WORK/results/$1.json"
}

ctl room create meeting --room_id=ward >/dev/null || fail "room create"
ffmpeg_key=$(new_key)
ffmpeg=$(ctl --json join ward --invite_token="$(token ward guest)" --receive=127.0.0.1:46662 \
  --key="$ffmpeg_key") || fail "ffmpeg join"
start_sender ffmpeg-talk 660 "$(field "$ffmpeg" port)" 46664 "$ffmpeg_key" "$OPUS_ENCODER" 40
# Firefox first (a fresh profile starts slower than Chromium), Chromium once Firefox is in the
# room. Each page measures the last 3 of its 14 s and then stays in the call 20 s longer
# (linger), so that each hears and sees the other through both measurements.
firefox_page fox ward 440 ff0000 440,660,880 14 "&linger=20"
wait_joined 2 30 fox
chromium_page chrome ward 880 0000ff 440,660,880 14 "&linger=20"
wait_result fox 40
wait_result chrome 40
for name in fox chrome; do
  error=$(page_value $name "r.get('error', '')")
  [[ -z $error ]] || fail "$name: the page failed: $error"
  ice=$(page_value $name "r.get('ice', '')")
  [[ $ice == connected || $ice == completed ]] ||
    fail "$name: ICE $ice: $(cat "$E2E_WORK/results/$name.json")"
done
echo "fox: $(cat "$E2E_WORK/results/fox.json")"
echo "chrome: $(cat "$E2E_WORK/results/chrome.json")"
# judge NAME OWN OTHER1 OTHER2 COLOUR: hears the others, each at least 20 dB above its own tone
# (what is left of it is coding noise of the others), and sees COLOUR.
judge() {
  local name=$1 own=$2 a=$3 b=$4 want=$5
  /usr/bin/python3 - "$E2E_WORK/results/$name.json" "$own" "$a" "$b" "$want" <<'PY' ||
import json, sys
r = json.load(open(sys.argv[1]))
own, a, b, want = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
t = r["tones_db"]
ok = t[a] > -70 and t[b] > -70 and t[own] < min(t[a], t[b]) - 20
rgb = r.get("rgb") or [-999] * 3
target = [int(want[i:i + 2], 16) for i in (0, 2, 4)]
ok = ok and all(abs(x - y) <= 40 for x, y in zip(rgb, target))
sys.exit(0 if ok else 1)
PY
    fail "$name: $(cat "$E2E_WORK/results/$name.json")"
}
judge fox 440 880 660 0000ff
pass "Firefox hears Chromium and the ffmpeg client, not itself, and sees Chromium's blue"
judge chrome 880 440 660 ff0000
pass "Chromium hears Firefox and the ffmpeg client, not itself, and sees Firefox's red"
