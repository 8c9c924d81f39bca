#!/usr/bin/env bash
# CPU per SIP audio participant against an API-joined one. One shared-PIN room with a talker (an
# ffmpeg participant sending a 440 Hz tone in Opus, joined through the API). First COUNT
# listeners join through the public API (chorusctl, PCMU, receiving on loopback ports nobody
# reads); then, after they left, COUNT SIP calls (SIPp, an SDES-SRTP PCMU offer each, held)
# join through `chorusd sip`. In each phase, once everyone is in, the CPU the processes spend
# over WINDOW seconds is measured: `chorusd all` (controller and media node: the same media
# work for either kind of participant) and, for SIP, the SIP role's own (holding its calls).
# Listeners send nothing: they stay within the media timeout (30 s) for the measured window.
# Usage: benchmarks/load/sip_participants.sh [BUILD_DIR] [COUNT] [WINDOW]
#   (defaults build/release 40 10)
# Loopback only: gRPC 127.0.0.1:49950, SIP 127.0.0.1:49951 (SIPp 49952), listeners' ports
# 49000-49899, media ports 53000-53999.
set -euo pipefail
build_dir=${1:-build/release}
count=${2:-40}
window=${3:-10}
export CHORUSD=${CHORUSD:-$build_dir/services/chorusd/chorusd}
export CHORUSCTL=${CHORUSCTL:-$build_dir/tools/chorusctl/chorusctl}
export TONE_ANALYZER=${TONE_ANALYZER:-$build_dir/tests/e2e/tools/chorus-tone-analyzer}
export UDP_RELAY=${UDP_RELAY:-$build_dir/tests/e2e/tools/chorus-udp-relay}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/tests/e2e/lib.sh"
source "$root/tests/e2e/media_lib.sh"
source "$root/tests/e2e/sip_lib.sh"
command -v sipp >/dev/null || fail "sipp is not installed (scripts/install-deps.sh installs it)"
((count >= 1 && count <= 400)) || fail "COUNT must be 1 to 400"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
start_chorusd all all --dev --grpc_listen=127.0.0.1:49950 --http_listen=127.0.0.1:0 \
  --media_port_min=53000 --media_port_max=53999
chorusd_pid=$CHORUSD_PID
room=$(ctl room create meeting --access=shared-pin --guest_pin=24680 --lobby=false \
  --max_participants=$((count + 5))) || fail "room create"
room_name=$(awk '{ print $1 }' <<<"$room")
dial=$(grep -o 'dial_in_id=[0-9]*' <<<"$room" | cut -d= -f2)
# CPU seconds (user + system) of a process so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# measure PID...: the CPU seconds each spends over the window, space-separated.
measure() {
  local before=() pid i=0 out=""
  for pid in "$@"; do before+=("$(cpu "$pid")"); done
  sleep "$window"
  for pid in "$@"; do
    out+="$(awk -v a="$(cpu "$pid")" -v b="${before[i]}" 'BEGIN { printf "%.3f", a - b }') "
    i=$((i + 1))
  done
  echo "$out"
}
in_room() { ctl participants "$room_name" | grep -c participants/ || true; }

key=$(new_key)
talker=$(ctl --json join "$room_name" --pin=24680 --receive=127.0.0.1:49899 --key="$key" \
  --codec=opus/111) || fail "the talker's join"
start_sender talker 440 "$(field "$talker" port)" 49896 "$key" "$OPUS_ENCODER" 400

# 1. Listeners through the API.
idle=$(measure "$chorusd_pid")
joined=()
for ((i = 0; i < count; i++)); do
  answer=$(ctl --json join "$room_name" --pin=24680 --receive=127.0.0.1:$((49000 + 2 * i)) \
    --key="$(new_key)" --codec=PCMU/0) || fail "API listener $i"
  joined+=("$(field "$answer" name)")
done
sleep 2
api=$(measure "$chorusd_pid")
for name in "${joined[@]}"; do ctl remove "$name" >/dev/null; done

# 2. The same number of SIP callers.
start_sip_role --sip_listen=sip:127.0.0.1:49951 --sip_controller="$GRPC_ADDR" \
  --sip_calls_per_second=10000 --sip_max_calls=10000
sip_pid=$SIP_PID
sip_idle=$(measure "$sip_pid")
hold_ms=$(((count / 20 + 2 * window + 15) * 1000))
sipp -nostdin -i 127.0.0.1 -p 49952 -mp 49960 127.0.0.1:49951 -s "$dial*24680" \
  -sf "$here/sip_call.xml" -d "$hold_ms" -r 20 -m "$count" -l "$count" -timeout 300s \
  >"$E2E_WORK/sipp.txt" 2>&1 &
sipp_pid=$!
E2E_PIDS+=("$sipp_pid")
wait_answered "$count" 60
sleep 2
[[ $(in_room) == $((count + 1)) ]] || fail "expected $((count + 1)) in the room, found $(in_room)"
read -r sip_chorusd sip_role <<<"$(measure "$chorusd_pid" "$sip_pid")"
wait "$sipp_pid" 2>/dev/null || true

awk -v n="$count" -v w="$window" -v idle="$idle" -v api="$api" -v sc="$sip_chorusd" \
  -v sr="$sip_role" -v si="$sip_idle" 'BEGIN {
    printf "%d listeners and a talker, CPU over %d s (%% of one core):\n", n, w;
    printf "  the talker alone: chorusd %.2f %%\n", 100 * idle / w;
    printf "  API listeners:    chorusd %.2f %% (%.3f %% per listener above the talker alone)\n", 100 * api / w, 100 * (api - idle) / w / n;
    printf "  SIP listeners:    chorusd %.2f %% (%.3f %% per listener above the talker alone); SIP role %.2f %% holding the calls (%.3f %% per call; %.2f %% idle)\n", 100 * sc / w, 100 * (sc - idle) / w / n, 100 * sr / w, 100 * (sr - si) / w / n, 100 * si / w;
  }'
