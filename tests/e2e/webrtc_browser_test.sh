#!/usr/bin/env bash
# Real browsers join over WebRTC (issue: WebRTC on the media node): Debian's Chromium, headless,
# in a network namespace that has only loopback. A platform backend stand-in serves the page and
# joins it through the public API with the browser's own SDP offer. Three participants in one
# room: two Chromium pages sending a tone (WebAudio oscillator) and a solid colour (canvas
# camera), and an ffmpeg SRTP client sending 660 Hz. Each page judges what it receives in the
# page itself: tone levels by FFT (AnalyserNode) and the colour at the centre of its view. Each
# must hear the two others and not itself, and see the other page's colour, and their transports
# get transport-wide congestion control feedback. Then a screen share and an ICE restart
# mid-call (UpdateMedia), a camera turned on after the join (a new section, UpdateMedia), and the
# waiting room: a page receives no packet until admitted.
if [[ -z ${CHORUS_E2E_NETNS:-} ]]; then
  exec unshare --net env CHORUS_E2E_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
source "$(dirname "$0")/webrtc_lib.sh"
command -v chromium >/dev/null || fail "chromium is not installed (scripts/install-deps.sh installs it)"

webrtc_meeting_with_talker browser 46500 660 30
browser alice ward 440 ff0000 440,660,880 14 "&linger=15"
browser bob ward 880 0000ff 440,660,880 14 "&linger=15"
wait_result alice 60
wait_result bob 60
page_ok alice bob
echo "alice: $(cat "$E2E_WORK/results/alice.json")"
echo "bob: $(cat "$E2E_WORK/results/bob.json")"
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
judge alice 440 880 660 0000ff
pass "Chromium alice hears bob and the ffmpeg client, not herself, and sees bob's blue"
judge bob 880 440 660 ff0000
pass "Chromium bob hears alice and the ffmpeg client, not himself, and sees alice's red"
# Chromium negotiated transport-wide congestion control and was sent its feedback (what its
# send-side bandwidth estimate is made of), and the call above went on with it. Its estimate
# rose to what the node's REMB allows (800 kbit/s for these tiles); without the feedback it
# falls to about 80 kbit/s, the video with it.
metrics=$(curl -sf "http://$HTTP_ADDR/metrics") || fail "GET /metrics"
metric() { awk -v m="$1" '$1 == m { print $2 + 0 }' <<<"$metrics"; }
feedback=$(metric chorus_webrtc_transport_feedback_sent_total)
handshakes=$(metric chorus_webrtc_dtls_handshakes_completed_total)
awk -v f="${feedback:-0}" -v h="${handshakes:-0}" 'BEGIN { exit !(f >= 20 && h >= 2) }' ||
  fail "transport feedback: ${feedback:-none} messages sent over ${handshakes:-no} DTLS handshakes"
estimates=()
for name in alice bob; do
  estimate=$(page_value $name "int(r.get('available_outgoing_bps', 0))")
  ((estimate >= 200000)) || fail "$name: its send-side estimate is $estimate bit/s"
  estimates+=("$estimate")
done
downs=$(metric 'chorus_video_tier_changes_total{direction="down"}')
pass "Chromium uses transport-wide congestion control: $feedback feedback messages sent," \
  "send-side estimates ${estimates[*]} bit/s; viewers moved down a bitrate tier: ${downs:-0}"

# Screen sharing started mid-call: carol shares a green screen three seconds into the call
# (a renegotiation through UpdateMedia); dave, in the same room, sees it large by the end. Dave
# meanwhile restarts ICE at five seconds (a network change); the call goes on.
ctl room create meeting --room_id=share >/dev/null || fail "room create share"
browser carol share 300 ff00ff 300,500 14 "&share=00ff00&share_after=3&linger=15"
browser dave share 500 00ffff 300,500 14 "&restart_after=5&linger=15"
wait_result carol 60
wait_result dave 60
page_ok carol dave
echo "carol: $(cat "$E2E_WORK/results/carol.json")"
echo "dave: $(cat "$E2E_WORK/results/dave.json")"
page_value carol "[e[0] for e in r['events']]" | grep -q sharing || fail "carol never shared"
/usr/bin/python3 - "$E2E_WORK/results/dave.json" <<'PY' || fail "dave does not see the shared screen large: $(cat "$E2E_WORK/results/dave.json")"
import json, sys
r = json.load(open(sys.argv[1]))
rgb = r.get("rgb") or [-999] * 3
sys.exit(0 if abs(rgb[0]) <= 40 and abs(rgb[1] - 255) <= 40 and abs(rgb[2]) <= 40 else 1)
PY
pass "a screen share started mid-call (renegotiated) reaches the others large: dave sees green"
page_value dave "[e[0] for e in r['events']]" | grep -q ice_restarted || fail "dave did not restart ICE"
/usr/bin/python3 - "$E2E_WORK/results/dave.json" "$E2E_WORK/results/carol.json" <<'PY' ||
import json, sys
dave, carol = (json.load(open(path)) for path in sys.argv[1:3])
# After the ICE restart (at 5 s; judged over the last 3 s of 14) dave still hears carol and
# carol still hears dave.
sys.exit(0 if dave["tones_db"]["300"] > -70 and carol["tones_db"]["500"] > -70 else 1)
PY
  fail "the call did not go on after dave's ICE restart"
pass "dave restarted ICE mid-call (UpdateMedia): both still hear each other afterwards"

# A camera turned on after the join: erin joins with her microphone only (no camera section)
# and adds her camera three seconds in, a new section renegotiated through UpdateMedia; by the
# end frank sees her yellow and she sees his blue, and both still hear each other. Frank's camera
# section offers H.264 only.
# see NAME COLOUR TONE: NAME sees COLOUR and hears TONE.
see() {
  /usr/bin/python3 - "$E2E_WORK/results/$1.json" "$2" "$3" <<'PY' || fail "$1: $(cat "$E2E_WORK/results/$1.json")"
import json, sys
r, want, tone = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
rgb = r.get("rgb") or [-999] * 3
target = [int(want[i:i + 2], 16) for i in (0, 2, 4)]
sys.exit(0 if all(abs(x - y) <= 40 for x, y in zip(rgb, target)) and r["tones_db"][tone] > -70
         else 1)
PY
}
# camera_later ROOM FIRST FIRST_QUERY LATE LATE_COLOUR LATE_QUERY: FIRST (520 Hz, blue camera)
# and LATE (740 Hz, LATE_COLOUR, its camera on 3 s in) in a new room; each sees and hears the
# other by the end.
camera_later() {
  local room=$1 first=$2 first_query=$3 late=$4 colour=$5 late_query=$6
  ctl room create meeting --room_id="$room" >/dev/null || fail "room create $room"
  browser "$first" "$room" 520 0000ff 520,740 14 "$first_query&linger=15"
  browser "$late" "$room" 740 "$colour" 520,740 14 "&camera_after=3$late_query&linger=15"
  wait_result "$first" 60
  wait_result "$late" 60
  page_ok "$first" "$late"
  echo "$first: $(cat "$E2E_WORK/results/$first.json")"
  echo "$late: $(cat "$E2E_WORK/results/$late.json")"
  page_value "$late" "[e[0] for e in r['events']]" | grep -q camera_on ||
    fail "$late's camera never came on"
  see "$first" "$colour" 740
  see "$late" 0000ff 520
}
camera_later late frank "&codec=H264" erin ffff00 ""
pass "a camera turned on after the join (a new section, renegotiated): frank sees erin's yellow," \
  "erin sees frank's blue, both hear each other"
# Frank offered H.264 only (as a browser without VP8 would; Safari prefers it): he sends and
# receives H.264, erin VP8; Chorus transcodes between them.
[[ $(page_value frank "r.get('video_codec_out')") == video/H264 &&
  $(page_value frank "r.get('video_codec_in')") == video/H264 ]] ||
  fail "frank's video is not H.264 both ways: $(cat "$E2E_WORK/results/frank.json")"
pass "a Chromium offering H.264 only sends and receives H.264 (erin:" \
  "$(page_value erin "r.get('video_codec_out')") out, $(page_value erin "r.get('video_codec_in')") in)"

# The same with a camera section there from the start, receiving only (what the reference
# client offers without a camera): gina turns it to sending three seconds in.
camera_later later hal "" gina ff00ff "&camera_section=recvonly"
pass "a receive-only camera section turned to sending (renegotiated): hal sees gina's magenta"

# The waiting room: a Chromium guest of a consultation has its transport up but receives nothing
# (no RTP at all) until the host admits it; admitted, it hears the host.
ctl room create consultation --room_id=clinic >/dev/null || fail "consultation"
host_key=$(new_key)
host=$(ctl --json join clinic --invite_token="$(token clinic host)" --receive=127.0.0.1:46566 \
  --key="$host_key") || fail "host join"
start_sender host-talk 600 "$(field "$host" port)" 46568 "$host_key" "$OPUS_ENCODER" 30
browser patient clinic 350 808080 600 14 "&early=5&linger=5"
wait_result patientearly 40
[[ $(page_value patientearly "r['ice']") == connected ]] ||
  fail "the waiting patient's transport is not up: $(cat "$E2E_WORK/results/patientearly.json")"
[[ $(page_value patientearly "r['audio_packets_received'] + r['video_packets_received']") == 0 ]] ||
  fail "the waiting patient received media: $(cat "$E2E_WORK/results/patientearly.json")"
pass "in the waiting room the Chromium patient's transport is up and it receives no packet"
patient=$(ctl participants clinic | grep -o 'rooms/clinic/participants/[a-z0-9]*' | tail -1)
ctl admit "$patient" >/dev/null || fail "admit"
wait_result patient 40
/usr/bin/python3 - "$E2E_WORK/results/patient.json" <<'PY' ||
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["tones_db"]["600"] > -70 and r.get("audio_packets_received", 0) > 0 else 1)
PY
  fail "the admitted patient does not hear the host: $(cat "$E2E_WORK/results/patient.json")"
pass "admitted, the Chromium patient hears the host: $(cat "$E2E_WORK/results/patient.json")"
