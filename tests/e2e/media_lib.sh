# Media helpers of the end-to-end scripts (sourced after lib.sh): real ffmpeg processes send and
# receive SRTP, chorusctl drives the media node's internal API, and chorus-tone-analyzer judges the
# recorded audio. Every process started here is killed when the script exits.
: "${TONE_ANALYZER:?set TONE_ANALYZER to the chorus-tone-analyzer binary}"
: "${UDP_RELAY:?set UDP_RELAY to the chorus-udp-relay binary}"
command -v ffmpeg >/dev/null || fail "ffmpeg is not installed (scripts/install-deps.sh installs it)"

# A fresh SDES master key || salt (30 bytes), base64.
new_key() { head -c 30 /dev/urandom | base64 -w0; }

node() { "$CHORUSCTL" --insecure --address="$GRPC_ADDR" node "$@"; }

# add_endpoint SESSION ID CODEC PT CLOCK PORT KEY [EXTRA_ROUTING_JSON]
# KEY is the key the endpoint sends with (SDES: each side announces its own sending key).
# Adds an audio endpoint that receives on 127.0.0.1:PORT; sets ANSWER_PORT and
# ANSWER_KEY to where the endpoint sends, and the key Chorus sends to it with.
add_endpoint() {
  local session=$1 id=$2 codec=$3 pt=$4 clock=$5 port=$6 key=$7 routing=${8:-'"admitted": true'}
  local answer
  answer=$(node AddEndpoint "{
    \"parent\": \"sessions/$session\", \"endpoint_id\": \"$id\",
    \"endpoint\": {\"transport\": \"TRANSPORT_SRTP\",
      \"remote_streams\": [{\"kind\": \"MEDIA_KIND_AUDIO\",
        \"codecs\": [{\"name\": \"$codec\", \"payload_type\": $pt, \"clock_rate\": $clock}],
        \"address\": \"127.0.0.1\", \"port\": $port,
        \"key\": {\"suite\": \"SRTP_SUITE_AES_CM_128_HMAC_SHA1_80\", \"key_base64\": \"$key\"}}],
      \"routing\": {$routing}}}") || fail "AddEndpoint $id"
  local local_part=${answer#*\"local_streams\"}
  ANSWER_PORT=$(grep -o '"port": [0-9]*' <<<"$local_part" | head -1 | grep -o '[0-9]*$')
  ANSWER_KEY=$(grep -o '"key_base64": "[^"]*"' <<<"$local_part" | head -1 | cut -d'"' -f4)
  [[ -n $ANSWER_PORT && -n $ANSWER_KEY ]] || fail "no answer port/key for $id: $answer"
}

# start_receiver NAME PORT KEY CODEC PT CLOCK CHANNELS SECONDS
# An ffmpeg SRTP receiver on 127.0.0.1:PORT, decoding to raw 48 kHz mono s16le in
# $E2E_WORK/NAME.raw; stops after SECONDS of received media (or 40 s in all).
start_receiver() {
  local name=$1 port=$2 key=$3 codec=$4 pt=$5 clock=$6 channels=$7 seconds=$8
  cat >"$E2E_WORK/$name.sdp" <<SDP
v=0
o=- 0 0 IN IP4 127.0.0.1
s=chorus-e2e
c=IN IP4 127.0.0.1
t=0 0
m=audio $port RTP/SAVP $pt
a=rtpmap:$pt $codec/$clock/$channels
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:$key
SDP
  timeout 40 ffmpeg -hide_banner -loglevel error -nostdin -y \
    -protocol_whitelist file,udp,rtp,srtp -i "$E2E_WORK/$name.sdp" \
    -t "$seconds" -ac 1 -ar 48000 -f s16le "$E2E_WORK/$name.raw" 2>"$E2E_WORK/$name.ffmpeg.txt" &
  E2E_PIDS+=($!)
  RECEIVER_PID=$!
}

# start_sender NAME HZ TARGET_PORT LOCAL_PORT KEY ENCODER_ARGS SECONDS [VOLUME]
# An ffmpeg SRTP sender of a sine tone (HZ) to 127.0.0.1:TARGET_PORT from LOCAL_PORT, RTCP
# sent to the same port (RFC 5761 multiplexing on our side; ffmpeg sends it from LOCAL_PORT + 1).
start_sender() {
  local name=$1 hz=$2 target=$3 local_port=$4 key=$5 encoder=$6 seconds=$7 volume=${8:-1}
  # shellcheck disable=SC2086
  timeout 40 ffmpeg -hide_banner -loglevel error -nostdin -re \
    -f lavfi -i "sine=frequency=$hz:sample_rate=48000:duration=$seconds" -af "volume=$volume" \
    $encoder -f rtp -srtp_out_suite AES_CM_128_HMAC_SHA1_80 -srtp_out_params "$key" \
    "srtp://127.0.0.1:$target?rtcpport=$target&localrtpport=$local_port&localrtcpport=$((local_port + 1))" \
    >/dev/null 2>"$E2E_WORK/$name.ffmpeg.txt" &
  E2E_PIDS+=($!)
}

OPUS_ENCODER="-ac 1 -c:a libopus -b:a 32k -application voip -payload_type 111"
PCMU_ENCODER="-ac 1 -ar 8000 -c:a pcm_mulaw"
G722_ENCODER="-ac 1 -ar 16000 -c:a g722"

# analyze NAME TONES...: runs the analyzer over $E2E_WORK/NAME.raw (skipping the first second)
# and leaves its report in $E2E_WORK/NAME.report.
analyze() {
  local name=$1
  shift
  local tones
  tones=$(IFS=,; echo "$*")
  [[ -s $E2E_WORK/$name.raw ]] || fail "$name received nothing ($(cat "$E2E_WORK/$name.ffmpeg.txt"))"
  "$TONE_ANALYZER" "$E2E_WORK/$name.raw" --rate=48000 --skip=1.0 --tones="$tones" \
    >"$E2E_WORK/$name.report"
}

# tone_db NAME HZ: the level of HZ in NAME's report.
tone_db() { awk -v hz="$2" '$1 == "tone" && $2 == hz { print $3 }' "$E2E_WORK/$1.report"; }
report_value() { awk -v key="$2" '$1 == key { print $2 }' "$E2E_WORK/$1.report"; }

# expect_db_above NAME HZ DB / expect_db_below NAME HZ DB
expect_db_above() {
  local level
  level=$(tone_db "$1" "$2")
  awk -v l="$level" -v d="$3" 'BEGIN { exit !(l > d) }' ||
    fail "$1: the $2 Hz tone is at $level dB, expected above $3 dB ($(tr '\n' ' ' <"$E2E_WORK/$1.report"))"
}
expect_db_below() {
  local level
  level=$(tone_db "$1" "$2")
  awk -v l="$level" -v d="$3" 'BEGIN { exit !(l < d) }' ||
    fail "$1: the $2 Hz tone is at $level dB, expected below $3 dB ($(tr '\n' ' ' <"$E2E_WORK/$1.report"))"
}

# wait_all PIDS...: waits for ffmpeg clients (they end on their own, bounded by timeout).
wait_all() {
  local pid
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

# ctl ARGS...: chorusctl against the chorusd started last (plaintext, --dev).
ctl() { "$CHORUSCTL" --insecure --address="$GRPC_ADDR" "$@"; }
# field JSON KEY: the first value of KEY in chorusctl's JSON output.
field() { grep -o "\"$2\": \"\\?[^\",]*" <<<"$1" | head -1 | sed -E 's/.*: "?//'; }

# room_join ROOM NAME ROLE PORT [invite flags...]: invites and joins a participant receiving on
# 127.0.0.1:PORT; sets send_port_NAME (where to send), answer_key_NAME (the key Chorus sends
# with), key_NAME (the key to send with) and participant_NAME (its resource name).
room_join() {
  local room=$1 name=$2 role=$3 port=$4
  shift 4
  local token key answer
  token=$(ctl invite create "$room" "$role" "$@" | sed -E 's/.*token=//') || fail "invite $name"
  key=$(new_key)
  answer=$(ctl --json join "$room" --invite_token="$token" --receive=127.0.0.1:"$port" \
    --key="$key") || fail "join $name"
  printf -v "send_port_$name" '%s' "$(field "$answer" port)"
  printf -v "answer_key_$name" '%s' "$(field "$answer" key_base64)"
  printf -v "key_$name" '%s' "$key"
  printf -v "participant_$name" '%s' "$(field "$answer" name)"
}

# analyze_window NAME FROM TO TONES...: analyses seconds FROM to TO (tenths) of NAME's recording
# into the report NAME-FROM (read it with tone_db NAME-FROM HZ).
analyze_window() {
  local name=$1 from=$2 to=$3
  shift 3
  local tones
  tones=$(IFS=,; echo "$*")
  [[ -s $E2E_WORK/$name.raw ]] || fail "$name received nothing ($(cat "$E2E_WORK/$name.ffmpeg.txt"))"
  # 0.1 s of 48 kHz mono s16le is 9600 bytes.
  dd if="$E2E_WORK/$name.raw" of="$E2E_WORK/$name-$from.raw" bs=9600 \
    skip="$(awk -v f="$from" 'BEGIN { printf "%d", f * 10 }')" \
    count="$(awk -v f="$from" -v t="$to" 'BEGIN { printf "%d", (t - f) * 10 }')" 2>/dev/null
  "$TONE_ANALYZER" "$E2E_WORK/$name-$from.raw" --rate=48000 --skip=0 --tones="$tones" \
    >"$E2E_WORK/$name-$from.report"
}

# add_video_endpoint SESSION ID CODEC PORT [TRANSPORT]: an endpoint with audio (to a port nobody
# reads) and video (CODEC VP8 or H264, payload type 96) whose view is sent to 127.0.0.1:PORT at
# 640x360. Sets VIDEO_PORT (where to send video), VIDEO_ANSWER_KEY (the key of the view) and
# VIDEO_SEND_KEY (the key to send video with). TRANSPORT: SRTP (default) or RTP_INSECURE.
add_video_endpoint() {
  local session=$1 id=$2 codec=$3 port=$4 transport=${5:-SRTP}
  local audio_key video_key answer audio_crypto="" video_crypto=""
  audio_key=$(new_key)
  video_key=$(new_key)
  if [[ $transport == SRTP ]]; then
    audio_crypto=", \"key\": {\"suite\": \"SRTP_SUITE_AES_CM_128_HMAC_SHA1_80\", \"key_base64\": \"$audio_key\"}"
    video_crypto=", \"key\": {\"suite\": \"SRTP_SUITE_AES_CM_128_HMAC_SHA1_80\", \"key_base64\": \"$video_key\"}"
  fi
  answer=$(node AddEndpoint "{
    \"parent\": \"sessions/$session\", \"endpoint_id\": \"$id\",
    \"endpoint\": {\"transport\": \"TRANSPORT_$transport\", \"routing\": {\"admitted\": true},
      \"remote_streams\": [
        {\"kind\": \"MEDIA_KIND_AUDIO\",
         \"codecs\": [{\"name\": \"opus\", \"payload_type\": 111, \"clock_rate\": 48000}],
         \"address\": \"127.0.0.1\", \"port\": 9 $audio_crypto},
        {\"kind\": \"MEDIA_KIND_VIDEO\",
         \"codecs\": [{\"name\": \"$codec\", \"payload_type\": 96, \"clock_rate\": 90000}],
         \"address\": \"127.0.0.1\", \"port\": $port, \"width\": 640, \"height\": 360
         $video_crypto}]}}") || fail "AddEndpoint $id"
  local local_part=${answer#*\"local_streams\"}
  local video_part=${local_part#*MEDIA_KIND_VIDEO}
  VIDEO_PORT=$(grep -o '"port": [0-9]*' <<<"$video_part" | head -1 | grep -o '[0-9]*$')
  VIDEO_ANSWER_KEY=$(grep -o '"key_base64": "[^"]*"' <<<"$video_part" | head -1 | cut -d'"' -f4 || true)
  VIDEO_SEND_KEY=$video_key
  AUDIO_PORT=$(grep -o '"port": [0-9]*' <<<"$local_part" | head -1 | grep -o '[0-9]*$')
  AUDIO_SEND_KEY=$audio_key
  [[ -n $VIDEO_PORT ]] || fail "no video answer for $id: $answer"
}

# start_video_receiver NAME PORT CODEC KEY SECONDS: an ffmpeg SRTP receiver of a 640x360 view,
# decoded to raw yuv420p in $E2E_WORK/NAME.yuv (every decoded frame once).
start_video_receiver() {
  local name=$1 port=$2 codec=$3 key=$4 seconds=$5 fmtp=""
  [[ $codec == H264 ]] && fmtp="a=fmtp:96 packetization-mode=1"
  cat >"$E2E_WORK/$name.sdp" <<SDP
v=0
o=- 0 0 IN IP4 127.0.0.1
s=chorus-e2e
c=IN IP4 127.0.0.1
t=0 0
m=video $port RTP/SAVP 96
a=rtpmap:96 $codec/90000
$fmtp
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:$key
SDP
  timeout 40 ffmpeg -hide_banner -loglevel error -nostdin -y \
    -protocol_whitelist file,udp,rtp,srtp -analyzeduration 1000000 -i "$E2E_WORK/$name.sdp" \
    -t "$seconds" -fps_mode passthrough -f rawvideo -pix_fmt yuv420p -s 640x360 \
    "$E2E_WORK/$name.yuv" 2>"$E2E_WORK/$name.ffmpeg.txt" &
  E2E_PIDS+=($!)
  RECEIVER_PID=$!
}

# start_video_sender NAME COLOUR SIZE CODEC TARGET_PORT LOCAL_PORT KEY SECONDS: an ffmpeg SRTP
# sender of a solid colour (keyframe every second). COLOUR may instead be a whole lavfi source
# (anything with a '=').
start_video_sender() {
  local name=$1 colour=$2 size=$3 codec=$4 target=$5 local_port=$6 key=$7 seconds=$8 encoder
  local source="color=c=$colour:s=$size:r=15"
  [[ $colour == *=* ]] && source=$colour
  if [[ $codec == VP8 ]]; then
    encoder="-c:v libvpx -deadline realtime -cpu-used 8 -b:v 300k"
  else
    encoder="-c:v libx264 -preset ultrafast -tune zerolatency -profile:v baseline -b:v 300k"
  fi
  # shellcheck disable=SC2086
  timeout 40 ffmpeg -hide_banner -loglevel error -nostdin -re \
    -f lavfi -i "$source" -t "$seconds" -pix_fmt yuv420p -g 15 $encoder \
    -payload_type 96 -f rtp -srtp_out_suite AES_CM_128_HMAC_SHA1_80 -srtp_out_params "$key" \
    "srtp://127.0.0.1:$target?rtcpport=$target&localrtpport=$local_port&localrtcpport=$((local_port + 1))" \
    >/dev/null 2>"$E2E_WORK/$name.ffmpeg.txt" &
  E2E_PIDS+=($!)
  SENDER_PID=$!
}

# join_with_video ROOM PIN NAME CODEC AUDIO_PORT VIDEO_PORT: joins through the public API (with
# the PIN, or an invite's token given as token=TOKEN) with audio, a 640x360 video view in CODEC
# and a content stream; sets PARTICIPANT_<NAME>,
# VIDEO_PORT_<NAME> (where to send the camera), VIEW_KEY_<NAME> (the view's key), SEND_KEY_<NAME>,
# AUDIO_PORT_<NAME> and AUDIO_KEY_<NAME> (where and with what to send audio), CONTENT_PORT_<NAME>,
# CONTENT_KEY_<NAME> and JOIN_<NAME> (the whole answer).
join_with_video() {
  local room=$1 pin=$2 name=$3 codec=$4 audio_port=$5 video_port=$6 send_key content_key answer
  local video_part
  send_key=$(new_key)
  content_key=$(new_key)
  local credential=--pin="$pin" audio_key
  [[ $pin == token=* ]] && credential=--invite_token="${pin#token=}"
  audio_key=$(new_key)
  answer=$(ctl --json join "$room" "$credential" --receive=127.0.0.1:"$audio_port" --key="$audio_key" \
    --video_receive=127.0.0.1:"$video_port" --video_key="$send_key" \
    --video_codec="$codec/96" --video_size=640x360 --content_key="$content_key") ||
    fail "join $name"
  local content_part=${answer#*MEDIA_KIND_CONTENT}
  printf -v "CONTENT_PORT_$name" '%s' "$(grep -o '"port": [0-9]*' <<<"$content_part" | head -1 |
    grep -o '[0-9]*$')"
  printf -v "CONTENT_KEY_$name" '%s' "$content_key"
  printf -v "PARTICIPANT_$name" '%s' "$(field "$answer" name)"
  video_part=${answer#*MEDIA_KIND_VIDEO}
  [[ $video_part != "$answer" ]] || fail "no video in the answer for $name: $answer"
  printf -v "VIDEO_PORT_$name" '%s' "$(grep -o '"port": [0-9]*' <<<"$video_part" | head -1 |
    grep -o '[0-9]*$')"
  printf -v "VIEW_KEY_$name" '%s' "$(grep -o '"key_base64": "[^"]*"' <<<"$video_part" |
    head -1 | cut -d'"' -f4)"
  printf -v "SEND_KEY_$name" '%s' "$send_key"
  printf -v "AUDIO_KEY_$name" '%s' "$audio_key"
  printf -v "AUDIO_PORT_$name" '%s' "$(grep -o '"port": [0-9]*' <<<"$answer" | head -1 |
    grep -o '[0-9]*$')"
  printf -v "JOIN_$name" '%s' "$answer"
}
# probe_frame NAME FRAME POINTS: chorus-frame-probe on $E2E_WORK/NAME.yuv (640x360).
probe_frame() {
  "$FRAME_PROBE" "$E2E_WORK/$1.yuv" --size=640x360 --frame="$2" --points="$3"
}
# some_frame VIEW "X,Y;X,Y;..." "Y U V;Y U V;...": some frame of the view (every 10th is
# looked at) has those colours at those points.
some_frame() {
  local frames f got
  frames=$(probe_frame "$1" -1 "0,0" | awk '$1 == "frames" { print $2 }')
  for ((f = 0; f < frames; f += 10)); do
    got=$(probe_frame "$1" "$f" "$2" | awk '$1 == "point" { printf "%s %s %s;", $4, $5, $6 }')
    IFS=';' read -r -a seen_points <<<"$got"
    IFS=';' read -r -a wanted <<<"$3"
    local ok=1 k
    for k in "${!wanted[@]}"; do yuv_near "${seen_points[k]}" "${wanted[k]}" || ok=0; done
    ((ok)) && return 0
  done
  return 1
}
# yuv_near "Y U V" "Y U V": within 20 per component.
yuv_near() {
  awk -v g="$1" -v w="$2" 'BEGIN {
    split(g, a, " "); split(w, b, " ");
    for (i = 1; i <= 3; i++) { d = a[i] - b[i]; if (d < -20 || d > 20) exit 1 }
  }'
}

# counter NAME: a counter of the chorusd started last, from its /metrics.
counter() { curl -sf "http://$HTTP_ADDR/metrics" | awk -v m="$1" '$1 == m { print $2 + 0 }'; }
# wait_counter NAME AT_LEAST SECONDS: until the counter reaches AT_LEAST.
wait_counter() {
  local value
  for _ in $(seq $(($3 * 10))); do
    value=$(counter "$1")
    awk -v v="${value:-0}" -v t="$2" 'BEGIN { exit !(v >= t) }' && return 0
    sleep 0.1
  done
  fail "$1 is ${value:-absent}, not $2, after $3 s"
}
seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# talker NAME HZ TARGET_PORT LOCAL_PORT KEY SECONDS [once]: an ffmpeg SRTP sender of a tone at
# -18 dBFS with a 200 ms pause every 3 s (from 2.65 s), ramped over 50 ms each way; with "once",
# one utterance without pauses, ramped in and out.
talker() {
  local envelope="min(1\\,max(0\\,(abs(mod(t\\,3)-2.75)-0.1)*20))"
  [[ ${7:-} == once ]] && envelope="max(0\\,min(1\\,min(t\\,$6-t)*20))"
  # shellcheck disable=SC2086
  timeout 40 ffmpeg -hide_banner -loglevel error -nostdin -re \
    -f lavfi -i "aevalsrc=exprs='0.125*sin(2*PI*$2*t)*$envelope':s=48000:d=$6" \
    $OPUS_ENCODER -f rtp -srtp_out_suite AES_CM_128_HMAC_SHA1_80 -srtp_out_params "$5" \
    "srtp://127.0.0.1:$3?rtcpport=$3&localrtpport=$4&localrtcpport=$(($4 + 1))" \
    >/dev/null 2>"$E2E_WORK/$1.ffmpeg.txt" &
  E2E_PIDS+=($!)
}

# require_aiortc: sets PEER to the aiortc WebRTC peer (tools/webrtc_peer.py), or fails when
# Debian's python3-aiortc is missing.
require_aiortc() {
  PEER="/usr/bin/python3 $(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tools/webrtc_peer.py"
  /usr/bin/python3 -c 'import aiortc' 2>/dev/null ||
    fail "python3-aiortc is not installed (scripts/install-deps.sh installs it)"
}
