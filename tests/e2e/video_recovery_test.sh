#!/usr/bin/env bash
# Video loss and bad senders, judged from outside with real ffmpeg clients (issue: Video MCU,
# tests 4 and 5). A 2x2 grid with self-view: v0 sends VP8 that turns red and blue each second
# through a relay that drops 2 % of its packets; v1 sends lime H.264 at 320x240, stops, and starts again at 640x360 (a new source);
# v2 sends garbage payloads with valid RTP headers (a plain-RTP endpoint, --dev only); v3 only
# watches. v3's view: v0's tile keeps following its colour changes (a lost frame freezes the
# tile until the next keyframe, asked for with PLI: never frozen for more than 2 s, never a
# colour that is neither), v1's tile is lime before and after
# its change of size, v2's tile stays the placeholder, and the node counts the keyframe requests
# and the garbage it could not decode.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/media_lib.sh"
: "${FRAME_PROBE:?set FRAME_PROBE to the chorus-frame-probe binary}"

start_chorusd recovery media-node --dev --allow_insecure_media --grpc_listen=127.0.0.1:0 \
  --http_listen=127.0.0.1:0 --media_port_min=45500 --media_port_max=45549 --media_workers=1
node CreateSession '{"session_id": "recovery"}' >/dev/null || fail "CreateSession"

add_video_endpoint recovery v0 VP8 45600
port0=$VIDEO_PORT key0=$VIDEO_SEND_KEY
add_video_endpoint recovery v1 H264 45604
port1=$VIDEO_PORT key1=$VIDEO_SEND_KEY
add_video_endpoint recovery v2 VP8 45608 RTP_INSECURE
port2=$VIDEO_PORT
add_video_endpoint recovery v3 VP8 45612
start_video_receiver watcher 45612 VP8 "$VIDEO_ANSWER_KEY" 10
watcher=$RECEIVER_PID

"$UDP_RELAY" --listen=127.0.0.1:45620 --to="127.0.0.1:$port0" --loss=0.02 --seed=11 \
  --seconds=20 >"$E2E_WORK/relay.txt" 2>&1 &
E2E_PIDS+=($!)
alternating="nullsrc=s=320x240:r=15,format=yuv420p,geq=lum='if(lt(mod(T\,2)\,1)\,81\,41)'"
alternating+=":cb='if(lt(mod(T\,2)\,1)\,90\,240)':cr='if(lt(mod(T\,2)\,1)\,240\,110)'"
start_video_sender v0 "$alternating" 320x240 VP8 45620 45630 "$key0" 16
start_video_sender v1-small lime 320x240 H264 "$port1" 45634 "$key1" 5
small=$SENDER_PID

# v2: 150 datagrams of random bytes behind a valid RTP header (version 2, PT 96, marker set).
(
  exec 3>"/dev/udp/127.0.0.1/$port2"
  for seq in $(seq 1 150); do
    {
      hi=$(printf '%02x' $((seq >> 8)))
      lo=$(printf '%02x' $((seq & 255)))
      printf "\x80\xe0\x$hi\x$lo\x00\x$hi\x$lo\x00\x00\x00\x00\x2a"
      head -c 400 /dev/urandom
    } >"$E2E_WORK/garbage.bin"
    cat "$E2E_WORK/garbage.bin" >&3
    sleep 0.05
  done
) &
E2E_PIDS+=($!)

wait "$small" 2>/dev/null || true
start_video_sender v1-large lime 640x360 H264 "$port1" 45638 "$key1" 10
wait_all "$watcher"

# Sample the watcher's view every 5 frames (0.2 s) from 1 s in.
frames=$(probe_frame watcher -1 "0,0" | awk '$1 == "frames" { print $2 }')
((frames >= 150)) || fail "the watcher decoded only $frames frames"
red="81 90 240" blue="41 240 110" lime="145 54 34" placeholder="40 128 128"
run_colour="" run=0 longest=0 reds=0 blues=0 lime_ok=0 lime_samples=0
for ((f = 25; f < frames; f += 5)); do
  read -r r0 r1 r2 < <(probe_frame watcher "$f" "160,90;480,90;160,270" |
    awk '$1 == "point" { printf "%s %s %s,", $4, $5, $6 }' | tr ',' '\n' | paste -sd' ' |
    awk '{ print $1"_"$2"_"$3, $4"_"$5"_"$6, $7"_"$8"_"$9 }')
  if yuv_near "${r0//_/ }" "$red"; then
    colour=red reds=$((reds + 1))
  elif yuv_near "${r0//_/ }" "$blue"; then
    colour=blue blues=$((blues + 1))
  else
    colour=other
  fi
  if [[ $colour == "$run_colour" ]]; then run=$((run + 1)); else run_colour=$colour run=1; fi
  ((run > longest)) && longest=$run
  yuv_near "${r2//_/ }" "$placeholder" || fail "frame $f: the garbage sender's tile is '${r2//_/ }'"
  lime_samples=$((lime_samples + 1))
  yuv_near "${r1//_/ }" "$lime" && lime_ok=$((lime_ok + 1))
done
# Each sample is 0.2 s. The colour changes every second, so a tile that recovers within 2 s of
# a loss never shows one colour (or anything else) for 15 samples (1 s + 2 s) in a row; a tile
# frozen by a loss it never recovered from would.
((reds >= 5 && blues >= 5)) || fail "v0's tile did not follow its colours (red $reds, blue $blues)"
((longest < 15)) ||
  fail "v0's tile showed '$run_colour' for $((longest * 200)) ms in a row (1 s expected, 3 s limit)"
pass "2 % loss on v0: its tile follows every change (longest run $((longest * 200)) ms; red $reds, blue $blues)"
pass "garbage from v2: its tile stays the placeholder; the others go on"
# Its tile may be grey for the moment between the two senders (a second or so).
((lime_ok * 10 >= lime_samples * 7)) ||
  fail "the resizing sender's tile was lime in only $lime_ok of $lime_samples samples"
yuv_near "$(probe_frame watcher -1 "480,90" | awk '$1 == "point" { print $4, $5, $6 }')" "$lime" ||
  fail "after its change of size, v1's tile is not lime"
pass "v1 changed from 320x240 to 640x360: lime before and after ($lime_ok of $lime_samples samples)"

metrics=$(curl -s "http://$HTTP_ADDR/metrics")
plis=$(awk '/^chorus_video_keyframe_requests_sent_total/ { print $2 }' <<<"$metrics")
undecodable=$(grep -E '^chorus_packet_drops_total\{reason="decode_error"\}' <<<"$metrics" |
  awk '{ print $2 }')
awk -v p="${plis:-0}" 'BEGIN { exit !(p >= 1) }' || fail "no keyframe request was sent"
awk -v d="${undecodable:-0}" 'BEGIN { exit !(d >= 1) }' || fail "the garbage was not counted"
pass "keyframe requests sent: $plis; undecodable frames counted: $undecodable"
