# Shared helpers of the SIP end-to-end scripts (sourced after lib.sh).

# baresip_config DIR NAME SIP_PORT RTP_PORT [EXTRA_LINE...]: a baresip caller's configuration in
# DIR: it listens for SIP on 127.0.0.1:SIP_PORT (and SIP_PORT + 1), sends RTP from RTP_PORT
# (and RTP_PORT + 1), sends an 880 Hz sine, and keeps what it decodes in DIR/dump/*-dec.wav
# (what it sends in *-enc.wav). G.711 and SRTP; EXTRA_LINEs are appended.
baresip_config() {
  local dir=$1 name=$2 sip=$3 rtp=$4
  shift 4
  mkdir -p "$dir/dump"
  cat >"$dir/config" <<CONFIG
poll_method		epoll
sip_listen		127.0.0.1:$sip
audio_player		aubridge,$name
audio_source		ausine,880
audio_alert		aubridge,$name
ausrc_srate		48000
auplay_srate		48000
ausrc_channels		2
auplay_channels		2
audio_level		no
rtp_ports		$rtp-$((rtp + 1))
module_path		/usr/lib/baresip/modules
module			g711.so
module			ausine.so
module			aubridge.so
module			sndfile.so
module			srtp.so
module_app		account.so
module_app		menu.so
snd_path		$dir/dump
CONFIG
  local line
  for line in "$@"; do printf '%s\n' "$line" >>"$dir/config"; done
}

# start_sip_role ARGS...: `chorusd sip --dev ARGS` (its log in $E2E_WORK/sip.log, its temporary
# files under $E2E_WORK/siptmp); waits until it listens. Sets SIP_PID and SIP_HTTP.
start_sip_role() {
  mkdir -p "$E2E_WORK/siptmp"
  TMPDIR="$E2E_WORK/siptmp" "$CHORUSD" sip --dev --http_listen=127.0.0.1:0 "$@" \
    >"$E2E_WORK/sip.out" 2>"$E2E_WORK/sip.log" &
  SIP_PID=$!
  E2E_PIDS+=("$SIP_PID")
  for _ in $(seq 150); do
    grep -qs '"event":"listening"' "$E2E_WORK/sip.log" && break
    kill -0 "$SIP_PID" 2>/dev/null || fail "chorusd sip exited before listening"
    sleep 0.1
  done
  grep -q '"event":"listening"' "$E2E_WORK/sip.log" || fail "chorusd sip did not listen in 15 s"
  SIP_HTTP=$(sed -nE 's/.*"http":"port ([0-9]+)".*/127.0.0.1:\1/p' "$E2E_WORK/sip.log" | head -1)
}

# wait_log FILE PATTERN SECONDS WHAT: waits until FILE has a line matching PATTERN (grep), at most
# SECONDS; fails saying WHAT did not happen.
wait_log() {
  for _ in $(seq $(($3 * 10))); do
    grep -q -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$4"
}

# baresip_caller NAME SIP_PORT RTP_PORT TARGET: a baresip caller (G.711, SRTP; its files in
# $E2E_WORK/NAME, its log in $E2E_WORK/baresip-NAME.log) dialling sip:TARGET, for 60 s at most.
baresip_caller() {
  local dir="$E2E_WORK/$1"
  baresip_config "$dir" "$1" "$2" "$3"
  echo "<sip:$1@127.0.0.1;transport=udp>;regint=0;audio_codecs=PCMU;mediaenc=srtp-mand" \
    >"$dir/accounts"
  timeout 70 baresip -f "$dir" -n 127.0.0.1 -t 60 -e "/dial sip:$4" \
    >"$E2E_WORK/baresip-$1.log" 2>&1 &
  E2E_PIDS+=($!)
}

# wait_answered COUNT SECONDS: until the SIP role has answered COUNT calls, at most SECONDS.
wait_answered() {
  for _ in $(seq $(($2 * 10))); do
    (($(grep -c '"event":"sip_call_answered"' "$E2E_WORK/sip.log") >= $1)) && return 0
    sleep 0.1
  done
  fail "the SIP role answered $(grep -c '"event":"sip_call_answered"' "$E2E_WORK/sip.log") of $1 calls"
}
