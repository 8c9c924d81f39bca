#!/usr/bin/env bash
# Forwarding a single voice that is not decoded (issue: forwarding instead of mixing). Two WebRTC
# peers of an independent implementation (Debian's python3-aiortc), which put their RFC 6464
# level on every packet as browsers do, in a meeting in a network namespace with only loopback:
# A sends 440 Hz, B 880 Hz (both at -18 dBFS), and A records what it decodes.
#   1. Two parties: each is forwarded the other's packets and neither voice is decoded on the
#      node (its counters over a window: decodes skipped beside packets forwarded; the
#      frames that are mixed are not these);
#   2. a third voice (an ffmpeg SRTP client, 660 Hz for 5 s) joins: A hears a mix of B and C
#      from then on, B's voice decoded again from the packet before it was skipped;
#   3. judged on A's own recording: B heard throughout, C while it was in, and no click at the
#      switches: the largest step between two samples there stays that of the tones.
# Ports: 48700-48799.
if [[ -z ${CHORUS_E2E_NETNS:-} ]]; then
  exec unshare --net env CHORUS_E2E_NETNS=1 bash "$0" "$@"
fi
ip link set lo up
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
require_aiortc

start_chorusd levels all --dev --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --media_port_min=48710 --media_port_max=48749 --webrtc_port=48750 --media_workers=1 \
  --video_workers=1
ctl room create meeting --room_id=pair --lobby=false >/dev/null || fail "room create"
token() { ctl invite create pair guest | sed -E 's/.*token=//'; }

$PEER --server="$GRPC_ADDR" --room=pair --invite_token="$(token)" --loopback --tone=440 \
  --amplitude=0.125 --seconds=26 --judge_seconds=20 --record="$E2E_WORK/a.raw" \
  --hear=880:-30 --not_hear=440:-40 >"$E2E_WORK/a.json" 2>"$E2E_WORK/a.err" &
peer_a=$!
E2E_PIDS+=($peer_a)
$PEER --server="$GRPC_ADDR" --room=pair --invite_token="$(token)" --loopback --tone=880 \
  --amplitude=0.125 --seconds=26 --hear=440:-30 >"$E2E_WORK/b.json" 2>"$E2E_WORK/b.err" &
peer_b=$!
E2E_PIDS+=($peer_b)

# 1. Two parties: over 150 packets forwarded, the frames behind them were skipped, not decoded.
wait_counter chorus_audio_forwarded_total 100 30
forwarded0=$(counter chorus_audio_forwarded_total)
skipped0=$(counter chorus_audio_decodes_skipped_total)
encodes0=$(counter chorus_audio_encodes_total)
wait_counter chorus_audio_forwarded_total $((forwarded0 + 150)) 20
forwarded1=$(counter chorus_audio_forwarded_total)
skipped1=$(counter chorus_audio_decodes_skipped_total)
encodes1=$(counter chorus_audio_encodes_total)
forwarded=$((forwarded1 - forwarded0)) skipped=$((skipped1 - skipped0))
awk -v s="$skipped" -v f="$forwarded" 'BEGIN { exit !(s * 10 >= f * 9) }' ||
  fail "two parties: $skipped frames skipped beside $forwarded packets forwarded"
pass "two parties: $forwarded packets forwarded, $skipped frames not decoded, $((encodes1 - encodes0)) encoded"
sleep 3  # more of the forwarded call on A's recording before the switch

# 2. A third voice says something for 5 s, then is removed.
room_join pair c guest 48760
talker c-talk 660 "$send_port_c" 48770 "$key_c" 5 once
c_talker=$!
wait_counter chorus_audio_encodes_total $((encodes1 + 150)) 20
wait "$c_talker" 2>/dev/null || true
ctl remove "$participant_c" >/dev/null || fail "remove c"
pass "three parties: mixed and encoded"
wait "$peer_a" || fail "A did not hear B throughout: $(cat "$E2E_WORK/a.json" "$E2E_WORK/a.err" | tail -c 600)"
wait "$peer_b" || fail "B did not hear A: $(cat "$E2E_WORK/b.json" "$E2E_WORK/b.err" | tail -c 600)"

# 3. A's recording: C's 660 Hz was heard, B's 880 Hz throughout (the peer judged the last 20 s),
# and no click at the switches: around the first frame with C in it (forwarded to mixed: B's
# voice decoded again from the packet before, the encoder primed with what A had just played)
# and over the second after C's last frame (mixed to forwarded), the largest step between two
# samples stays that of the tones: two tones at -18 dBFS move by at most about
# (4100 x 2 pi (880 + 660)) / 48000 (830); a click goes far above. (Elsewhere in the mix a frame
# of C that came too late for its tick on a busy machine is concealed, which is no switch.)
analyze a 440,660,880
echo "a: $(tr '\n' ' ' <"$E2E_WORK/a.report")"
expect_db_above a 660 -50
switches=$(/usr/bin/python3 - "$E2E_WORK/a.raw" <<'PY'
import math, sys
import numpy
a = numpy.fromfile(sys.argv[1], dtype="<i2").astype(numpy.float64)
frame = 960
t = numpy.arange(frame) / 48000.0
probe = numpy.exp(-2j * math.pi * 660 * t)
def db(i):
    chunk = a[i * frame:(i + 1) * frame] / 32768.0
    return 20 * math.log10(max(2 * abs(numpy.dot(chunk, probe)) / frame, 1e-10))
with_c = [i for i in range(len(a) // frame) if db(i) > -30]
if not with_c:
    print("none")
    sys.exit()
steps = numpy.abs(numpy.diff(a))
def largest(first, last):
    return int(steps[max(first, 0) * frame:min(last, len(a) // frame) * frame].max())
print(largest(with_c[0] - 3, with_c[0] + 3), largest(with_c[-1], with_c[-1] + 50))
PY
) || fail "judging A's recording"
[[ $switches != none ]] || fail "C's voice never reached A"
read -r into_mix out_of_mix <<<"$switches"
awk -v a="$into_mix" -v b="$out_of_mix" 'BEGIN { exit !(a <= 1500 && b <= 1500) }' ||
  fail "a click at a switch: largest step $into_mix into the mix, $out_of_mix out of it"
pass "A heard B throughout and C while it was in; largest step between two samples into the mix $into_mix, out of it $out_of_mix (in the whole recording $(report_value a max_jump))"
