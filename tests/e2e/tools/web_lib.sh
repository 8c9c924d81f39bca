# Helpers of the web client's end-to-end scripts (sourced after lib.sh and media_lib.sh): chorusd
# with its web listener, the harness server (web_harness.py: a platform page on another origin
# that mounts the real client), headless Chromium and Firefox pages on it, and the commands that
# drive each page (click the client's buttons, wait for its states, measure what it plays).
# Every browser is stopped, and every file removed, when the script exits.
# chorusd serves web/ as built into it: to try changes to web/ without rebuilding, set
# WEB_SCRIPTS to the origin of a plain file server of web/ on 127.0.0.1 (for example
# `python3 -m http.server 46899 --bind 127.0.0.1` in web/, started in the test's namespace):
# the harness pages then load the client from there, and still signal to chorusd.
WEB_TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export TMPDIR="$E2E_WORK/tmp"
mkdir -p "$TMPDIR" "$E2E_WORK/results"

# Each browser runs under `timeout`, which leads a process group of its own: on exit every browser
# process is asked to end and waited for (at most 10 s) before lib.sh's cleanup removes the
# scratch folder their profiles are in.
BROWSER_GROUPS=()
web_group_alive() {
  ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'
}
web_stop_browsers() {
  local group alive
  for group in "${BROWSER_GROUPS[@]}"; do kill -TERM -- "-$group" 2>/dev/null || true; done
  for _ in $(seq 100); do
    alive=0
    for group in "${BROWSER_GROUPS[@]}"; do if web_group_alive "$group"; then alive=1; fi; done
    ((alive)) || return 0
    sleep 0.1
  done
  for group in "${BROWSER_GROUPS[@]}"; do kill -KILL -- "-$group" 2>/dev/null || true; done
}
trap 'web_stop_browsers || true; e2e_cleanup' EXIT

# web_start_chorusd NAME BASE HARNESS_ORIGIN [ARGS...]: chorusd (all, --dev) on the ports from
# BASE: media BASE..BASE+49, WebRTC BASE+50, web BASE+60, gRPC BASE+70, HTTP BASE+71; pages of
# HARNESS_ORIGIN may embed it. Sets WEB_URL.
web_start_chorusd() {
  local name=$1 base=$2 origin=$3
  shift 3
  WEB_URL="http://127.0.0.1:$((base + 60))"
  start_chorusd "$name" all --dev --grpc_listen=127.0.0.1:$((base + 70)) \
    --http_listen=127.0.0.1:$((base + 71)) --media_port_min="$base" \
    --media_port_max=$((base + 49)) --webrtc_port=$((base + 50)) --media_workers=1 \
    --video_workers=1 --web_listen=127.0.0.1:$((base + 60)) --public_url="$WEB_URL" \
    --web_allowed_origins="$origin" "$@"
}

# web_start_harness PORT: the harness server on 127.0.0.1:PORT. Sets HARNESS_URL.
web_start_harness() {
  HARNESS_URL="http://127.0.0.1:$1"
  /usr/bin/python3 "$WEB_TOOLS/web_harness.py" --listen="127.0.0.1:$1" \
    --out_dir="$E2E_WORK/results" >"$E2E_WORK/harness.out" 2>"$E2E_WORK/harness.log" &
  E2E_PIDS+=($!)
  for _ in $(seq 100); do
    grep -q listening "$E2E_WORK/harness.out" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "the harness server did not start"
}

# web_invite ROOM ROLE [FLAGS...]: a new invitation; prints its link (<public_url>/join#r=&i=),
# as CreateInvite returned it.
web_invite() {
  local out link
  out=$(ctl invite create "$@") || fail "invite create $*"
  link=$(grep -o 'http[^ ]*/join#[^ ]*' <<<"$out" | head -1 || true)
  [[ $link == "$WEB_URL/join#r=$1&i="* ]] || fail "CreateInvite returned no link for room $1"
  echo "$link"
}

# web_fake_media NAME HZ RRGGBB: a sine WAV and a solid-colour Y4M for Chromium's fake devices.
web_fake_media() {
  ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi \
    -i "sine=frequency=$2:sample_rate=48000:duration=10" -ac 1 -c:a pcm_s16le \
    "$E2E_WORK/$1.wav" || fail "wav $1"
  ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i "color=c=0x$3:s=640x360:r=15" \
    -frames:v 15 -pix_fmt yuv420p "$E2E_WORK/$1.y4m" || fail "y4m $1"
}

# web_chromium NAME HZ RRGGBB [URL [FLAGS...]]: a headless Chromium whose fake microphone plays
# HZ and whose fake camera shows RRGGBB (HZ "-": Chromium's own fake devices; "denied": camera
# and microphone refused, as when a person says no), on the harness page as NAME (or on URL,
# with more command-line FLAGS). A screen share gets Chromium's fake screen without asking.
web_chromium() {
  local name=$1 hz=$2 colour=$3 url=${4:-"$HARNESS_URL/?name=$1&chorus=$WEB_URL${WEB_SCRIPTS:+&scripts=$WEB_SCRIPTS}"}
  local media=(--use-fake-device-for-media-stream --use-fake-ui-for-media-stream
    --auto-select-desktop-capture-source=Entire --auto-accept-this-tab-capture)
  shift $(($# < 4 ? $# : 4))
  if [[ $hz == denied ]]; then
    media=(--use-fake-device-for-media-stream --deny-permission-prompts)
  elif [[ $hz != - ]]; then
    web_fake_media "$name" "$hz" "$colour"
    media+=(--use-file-for-fake-audio-capture="$E2E_WORK/$name.wav"
      --use-file-for-fake-video-capture="$E2E_WORK/$name.y4m")
  fi
  mkdir -p "$E2E_WORK/chromium-$name"
  HOME="$E2E_WORK/chromium-$name" timeout 170 chromium --headless=new --no-sandbox \
    --disable-gpu --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --disable-default-apps --mute-audio --autoplay-policy=no-user-gesture-required \
    --allow-loopback-in-peer-connection --disable-features=WebRtcHideLocalIpsWithMdns \
    "${media[@]}" \
    --window-size=1280,800 --user-data-dir="$E2E_WORK/chromium-$name" "$@" "$url" \
    >"$E2E_WORK/$name.browser.txt" 2>&1 &
  E2E_PIDS+=($!)
  BROWSER_GROUPS+=($!)
}

# web_firefox NAME HZ: a headless Firefox ESR in a fresh profile on the harness page as NAME; its
# fake microphone plays HZ, its fake camera is Firefox's own.
web_firefox() {
  local name=$1 hz=$2 profile="$E2E_WORK/firefox-$1"
  mkdir -p "$profile"
  cat >"$profile/user.js" <<PREFS
// WebAudio without a sound server; media without prompts or autoplay blocking.
user_pref("media.cubeb.force_mock_context", true);
user_pref("media.autoplay.default", 0);
user_pref("media.autoplay.blocking_policy", 0);
user_pref("media.autoplay.block-webaudio", false);
// getUserMedia answers at once with a fake camera and a fake microphone playing a sine of HZ.
user_pref("media.navigator.permission.disabled", true);
user_pref("media.navigator.streams.fake", true);
user_pref("media.navigator.permission.fake", true);
user_pref("media.navigator.audio.fake_frequency", $hz);
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
  HOME="$profile" MOZ_CRASHREPORTER_DISABLE=1 timeout 170 firefox-esr --headless --no-remote \
    --profile "$profile" "$HARNESS_URL/?name=$name&chorus=$WEB_URL${WEB_SCRIPTS:+&scripts=$WEB_SCRIPTS}" \
    >"$E2E_WORK/$name.browser.txt" 2>&1 &
  E2E_PIDS+=($!)
  BROWSER_GROUPS+=($!)
}

# web_send PAGE JSON: queues a command for the page; prints its id.
web_send() {
  curl -sf -X POST --data-binary "$2" "$HARNESS_URL/cmd/$1" |
    /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])' ||
    fail "cannot queue a command for $1"
}

# web_wait PAGE ID SECONDS: waits for the result of command ID; sets WEB_RESULT (its file) and
# fails when the page reported a failure.
web_wait() {
  WEB_RESULT="$E2E_WORK/results/$1-$2.json"
  for _ in $(seq $(($3 * 10))); do
    [[ -s $WEB_RESULT ]] && break
    sleep 0.1
  done
  [[ -s $WEB_RESULT ]] ||
    fail "$1: no answer to command $2 within $3 s ($(tail -3 "$E2E_WORK/results/$1.log" 2>/dev/null))"
  [[ $(web_value "r['ok']") == True ]] ||
    fail "$1: $(cat "$WEB_RESULT") (page log: $(tail -5 "$E2E_WORK/results/$1.log" | tr '\n' ';'))"
}

# web_started PAGE ID SECONDS: waits until the page has begun command ID (it logs "start" as it
# begins each command, in order).
web_started() {
  local begun
  for _ in $(seq $(($3 * 10))); do
    begun=$(grep -c ' start ' "$E2E_WORK/results/$1.log" 2>/dev/null || true)
    ((begun >= $2)) && return 0
    sleep 0.1
  done
  fail "$1 did not begin command $2 within $3 s"
}

# web_do PAGE SECONDS JSON: a command and its result (WEB_RESULT), within SECONDS (the page's
# own deadline for it, unless the command has one, is a second less).
web_do() {
  local id command
  command=$(/usr/bin/python3 -c '
import json, sys
c = json.loads(sys.argv[1])
c.setdefault("timeout", max(1, int(sys.argv[2]) - 1))
print(json.dumps(c))' "$3" "$2")
  id=$(web_send "$1" "$command")
  web_wait "$1" "$id" "$2"
}

# web_value EXPR: a value from the last result (r).
web_value() {
  /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($1)" "$WEB_RESULT"
}

# web_ready PAGE SECONDS: waits until the page's harness has loaded the client from chorusd.
web_ready() {
  for _ in $(seq $(($2 * 10))); do
    grep -q ready "$E2E_WORK/results/$1.log" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$1: the harness page did not load within $2 s ($(tail -3 "$E2E_WORK/$1.browser.txt"))"
}

# web_mount PAGE LINK: mounts the client on the page with the invitation link's room and token.
web_mount() {
  web_do "$1" 10 "$(/usr/bin/python3 -c '
import json, sys, urllib.parse
fragment = dict(urllib.parse.parse_qsl(sys.argv[1].split("#", 1)[1]))
print(json.dumps({"op": "mount", "room": fragment["r"], "invite": fragment["i"]}))' "$2")"
}

# web_judge_call PAGE OWN_HZ OTHER_HZ RRGGBB: the last measurement hears OTHER_HZ, at least 20 dB
# above its own tone (what is left of that is coding noise), and shows RRGGBB at the centre.
web_judge_call() {
  /usr/bin/python3 - "$WEB_RESULT" "$2" "$3" "$4" <<'PY' || fail "$1: $(cat "$WEB_RESULT")"
import json, sys
r = json.load(open(sys.argv[1]))
own, other, want = sys.argv[2], sys.argv[3], sys.argv[4]
t = r["tones_db"]
ok = t[other] > -70 and t[own] < t[other] - 20
target = [int(want[i:i + 2], 16) for i in (0, 2, 4)]
ok = ok and r["rgb"] is not None and all(abs(x - y) <= 40 for x, y in zip(r["rgb"], target))
sys.exit(0 if ok else 1)
PY
}

# web_judge_heard HEARD_HZ QUIET_HZ: in the last measurement, HEARD_HZ is heard (its median over
# -70 dB: short gaps allowed) and QUIET_HZ is not (its mean 20 dB under that).
web_judge_heard() {
  /usr/bin/python3 - "$WEB_RESULT" "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
heard, mean, a, b = r["median_db"], r["tones_db"], sys.argv[2], sys.argv[3]
sys.exit(0 if heard[a] > -70 and mean[b] < heard[a] - 20 else 1)
PY
}
