#!/bin/bash
# Real WebRTC stacks against the SDP module, by hand (needs Debian's chromium, firefox-esr and
# python3-aiortc; runs the browsers headless with fake devices, everything on 127.0.0.1).
#
#   run.sh capture OUT_DIR
#       Captures offers as the fixtures in ../testdata were made: chromium_camera (max-bundle),
#       chromium_h264 (H.264 preferred), chromium_screen (a second video track from a canvas),
#       chromium_screen_balanced, firefox_camera, firefox_screen_balanced, aiortc_camera.
#   run.sh accept ANSWER_TOOL
#       Has each browser (and aiortc) offer, ANSWER_TOOL (the chorus_sdp_answer_tool target)
#       answer, and the browser apply the answer with setRemoteDescription; prints what each
#       made of it. Every block must start with ACCEPTED.
set -euo pipefail

mode=${1:?usage: run.sh capture OUT_DIR | run.sh accept ANSWER_TOOL}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ "$mode" == capture ]]; then
  out=$(mkdir -p "${2:?OUT_DIR}" && cd "$2" && pwd)
  tool=
else
  out=$work/results
  mkdir -p "$out"
  tool=$(cd "$(dirname "${2:?ANSWER_TOOL}")" && pwd)/$(basename "$2")
fi

/usr/bin/python3 "$here/server.py" "$out" "$work/port" $tool &
server_pid=$!
for _ in $(seq 50); do [[ -s "$work/port" ]] && break; sleep 0.1; done
base="http://127.0.0.1:$(cat "$work/port")/page.html?mode=$mode"

# Runs a browser command in the background until the page has posted its report (the browsers
# do not exit by themselves), at most 30 seconds.
run_page() {  # name command...
  local name=$1
  shift
  timeout 30 "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 300); do
    [[ -e "$out/$name.sdp" || -e "$out/$name.result" || -e "$out/$name.error" ]] && break
    sleep 0.1
  done
  sleep 0.2  # the file is complete once the server has answered the post
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

chromium_page() {  # name query
  run_page "$1" chromium --no-sandbox --headless=new --disable-gpu \
    --use-fake-device-for-media-stream --use-fake-ui-for-media-stream \
    --disable-background-networking --user-data-dir="$(mktemp -d -p "$work")" \
    "$base&name=$1&$2"
}

firefox_page() {  # name query
  local profile
  profile=$(mktemp -d -p "$work")
  cat > "$profile/user.js" <<'PREFS'
user_pref("media.navigator.streams.fake", true);
user_pref("media.navigator.permission.disabled", true);
user_pref("media.peerconnection.ice.obfuscate_host_addresses", false);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
PREFS
  run_page "$1" firefox-esr --headless --no-remote --profile "$profile" "$base&name=$1&$2"
}

if [[ "$mode" == capture ]]; then
  chromium_page chromium_camera "bundle=max-bundle"
  chromium_page chromium_h264 "bundle=max-bundle&h264=1"
  chromium_page chromium_screen "bundle=max-bundle&screen=1"
  chromium_page chromium_screen_balanced "screen=1"
  firefox_page firefox_camera "bundle=max-bundle"
  firefox_page firefox_screen_balanced "screen=1"
  timeout 60 /usr/bin/python3 "$here/aiortc_peer.py" capture "$out/aiortc_camera.sdp"
  ls -l "$out"
else
  chromium_page chromium_camera "bundle=max-bundle"
  chromium_page chromium_h264 "h264=1"
  chromium_page chromium_everything "screen=1&third=1&datachannel=1"
  firefox_page firefox_camera "bundle=max-bundle"
  firefox_page firefox_everything "screen=1&third=1&datachannel=1"
  for result in "$out"/*.result; do
    echo "== $(basename "$result" .result)"
    cat "$result"
    echo
  done
  echo "== aiortc"
  timeout 60 /usr/bin/python3 "$here/aiortc_peer.py" accept "$tool" 2>/dev/null
fi
