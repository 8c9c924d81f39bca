# Shared helpers of the Chromium WebRTC tests (sourced after lib.sh and media_lib.sh): the
# platform backend stand-in that serves the test page and joins it through the public API, and
# headless Chromium pages on it. The pages judge what they receive and post it as JSON.
WEBRTC_TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")/tools" && pwd)"

# webrtc_start_backend PORT: the backend on 127.0.0.1:PORT, a client of $GRPC_ADDR.
webrtc_start_backend() {
  WEBRTC_BACKEND="127.0.0.1:$1"
  # Whatever the browsers and the backend leave in TMPDIR goes with the scratch folder.
  export TMPDIR="$E2E_WORK/tmp"
  mkdir -p "$TMPDIR" "$E2E_WORK/results"
  /usr/bin/python3 "$WEBRTC_TOOLS/webrtc_backend.py" --listen="$WEBRTC_BACKEND" \
    --server="$GRPC_ADDR" --out_dir="$E2E_WORK/results" >"$E2E_WORK/backend.out" \
    2>"$E2E_WORK/backend.log" &
  E2E_PIDS+=($!)
  for _ in $(seq 100); do grep -q listening "$E2E_WORK/backend.out" 2>/dev/null && break; sleep 0.1; done
  grep -q listening "$E2E_WORK/backend.out" || fail "the backend did not start"
}

token() { ctl invite create "$1" "$2" | sed -E 's/.*token=//'; }

# webrtc_meeting_with_talker NAME BASE HZ SECONDS: chorusd NAME (media ports BASE to BASE+49,
# the WebRTC port BASE+50, one media and one video worker), the backend on BASE+60, the meeting
# "ward", and an ffmpeg SRTP guest in it (receiving on BASE+62) sending HZ for SECONDS.
webrtc_meeting_with_talker() {
  local name=$1 base=$2 hz=$3 seconds=$4
  start_chorusd "$name" all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
    --media_port_min="$base" --media_port_max=$((base + 49)) --webrtc_port=$((base + 50)) \
    --media_workers=1 --video_workers=1
  webrtc_start_backend $((base + 60))
  ctl room create meeting --room_id=ward >/dev/null || fail "room create"
  local key joined
  key=$(new_key)
  joined=$(ctl --json join ward --invite_token="$(token ward guest)" \
    --receive=127.0.0.1:$((base + 62)) --key="$key") || fail "ffmpeg join"
  start_sender ffmpeg-talk "$hz" "$(field "$joined" port)" $((base + 64)) "$key" \
    "$OPUS_ENCODER" "$seconds"
}

# browser NAME ROOM TONE COLOUR LISTEN SECONDS [EXTRA_QUERY]: a headless Chromium on the page.
browser() {
  local name=$1 room=$2 tone=$3 colour=$4 listen=$5 seconds=$6 extra=${7:-}
  local url="http://$WEBRTC_BACKEND/?name=$name&room=$room&token=$(token "$room" guest)"
  url+="&tone=$tone&colour=$colour&listen=$listen&seconds=$seconds$extra"
  url+="${CHORUS_E2E_DEBUG:+&debug=1}"
  HOME="$E2E_WORK/home-$name" timeout 90 chromium --headless=new --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-default-apps --mute-audio --autoplay-policy=no-user-gesture-required \
    --allow-loopback-in-peer-connection --disable-features=WebRtcHideLocalIpsWithMdns \
    --user-data-dir="$E2E_WORK/chrome-$name" \
    "$url" >"$E2E_WORK/$name.chrome.txt" 2>&1 &
  E2E_PIDS+=($!)
}
# wait_result NAME SECONDS: waits for the page's measurements.
wait_result() {
  local file="$E2E_WORK/results/$1.json"
  for _ in $(seq $(($2 * 10))); do [[ -s $file ]] && return 0; sleep 0.1; done
  fail "$1: no result from the page within $2 s ($(tail -5 "$E2E_WORK/$1.chrome.txt"))"
}
# page_value NAME EXPR: a value from the page's JSON result.
page_value() {
  /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" \
    "$E2E_WORK/results/$1.json"
}
# page_ok NAME...: the pages measured to the end without an error.
page_ok() {
  local name error
  for name in "$@"; do
    error=$(page_value "$name" "r.get('error', '')")
    [[ -z $error ]] || fail "$name: the page failed: $error"
  done
}
