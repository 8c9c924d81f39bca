#!/usr/bin/env bash
# A browser that falls silent sends almost nothing (issue: forwarding, large rooms): Chorus
# answers Opus with usedtx=1 (RFC 7587: the receiver prefers discontinuous transmission), so
# Debian's Chromium, headless in a namespace with only loopback, sends a packet every 400 ms or
# so while it is silent instead of one every 20 ms: a listener of a lecture costs the node and
# the patient's mobile link next to nothing. The page plays a tone, then digital silence, and
# counts its own audio packets sent (getStats, the browser's count, not the node's) over 4 s
# of the tone and over the 9 s of silence after it; it hears an ffmpeg talker throughout (FFT).
# Ports 48800-48899.
if [[ -z ${CHORUS_E2E_NETNS:-} ]]; then
  exec unshare --net env CHORUS_E2E_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/webrtc_lib.sh"
command -v chromium >/dev/null || fail "chromium is not installed (scripts/install-deps.sh installs it)"

webrtc_meeting_with_talker dtx 48800 660 35
browser quiet ward 440 00ff00 660 20 "&silent_after=10"
wait_result quiet 75
page_ok quiet
echo "quiet: $(cat "$E2E_WORK/results/quiet.json")"
/usr/bin/python3 - "$E2E_WORK/results/quiet.json" <<'PY' ||
import json, sys
r = json.load(open(sys.argv[1]))
talking, silent = r["audio_sent_per_s_talking"], r["audio_sent_per_s_silent"]
heard = r["tones_db"]["660"]
print(f"audio packets sent per second: {talking:.1f} with the tone, {silent:.1f} silent; "
      f"the talker heard at {heard:.1f} dB")
sys.exit(0 if talking >= 40 and silent <= 10 and heard > -70 else 1)
PY
  fail "quiet: $(cat "$E2E_WORK/results/quiet.json")"
pass "Chromium sends 50 audio packets a second with a tone and at most 10 in silence (DTX), and hears the talker"
