#!/usr/bin/env bash
# SIP call setups per second: SIPp (an independent SIP tool) makes CALLS calls at RATE per second
# into one shared-PIN room through `chorusd sip`, each an INVITE with an SDES-SRTP offer, the
# answer, ACK, one second in the room and BYE (benchmarks/load/sip_call.xml); the SIP role joins
# each through the controller's public API (`chorusd all`: controller and media node). Reports the
# calls that completed, the rate they completed at, SIPp's INVITE-to-answer times, and the CPU
# each process spent per call: the SIP role's own (signalling) apart from the controller's (every
# join checks the room's PIN against its Argon2id hash) and the media node's.
# Usage: benchmarks/load/sip_setups.sh [BUILD_DIR] [RATE] [CALLS]   (defaults build/release 20 400)
# Loopback only: gRPC 127.0.0.1:49970, SIP 127.0.0.1:49971, media ports 49972-49999 and
# 53000-53999.
set -euo pipefail
build_dir=${1:-build/release}
rate=${2:-20}
calls=${3:-400}
export CHORUSD=${CHORUSD:-$build_dir/services/chorusd/chorusd}
export CHORUSCTL=${CHORUSCTL:-$build_dir/tools/chorusctl/chorusctl}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/tests/e2e/lib.sh"
source "$root/tests/e2e/sip_lib.sh"
command -v sipp >/dev/null || fail "sipp is not installed (scripts/install-deps.sh installs it)"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
start_chorusd all all --dev --grpc_listen=127.0.0.1:49970 --http_listen=127.0.0.1:0 \
  --media_port_min=53000 --media_port_max=53999
controller_pid=$CHORUSD_PID
ctl() { "$CHORUSCTL" --insecure --address="$GRPC_ADDR" "$@"; }
room=$(ctl room create meeting --access=shared-pin --guest_pin=24680 --lobby=false \
  --max_participants=500) || fail "room create"
dial=$(grep -o 'dial_in_id=[0-9]*' <<<"$room" | cut -d= -f2)
start_sip_role --sip_listen=sip:127.0.0.1:49971 --sip_controller="$GRPC_ADDR" \
  --sip_calls_per_second=10000 --sip_max_calls=10000
sip_pid=$SIP_PID
# CPU seconds (user + system) of a process so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"; }
sip_before=$(cpu "$sip_pid")
controller_before=$(cpu "$controller_pid")
start=$(date +%s.%N)
sipp -nostdin -i 127.0.0.1 -p 49969 -mp 49972 127.0.0.1:49971 -s "$dial*24680" \
  -sf "$here/sip_call.xml" -d 1000 -r "$rate" -m "$calls" -l 1000 -timeout 300s \
  -trace_stat -stf "$E2E_WORK/stat.csv" -trace_screen -screen_file "$E2E_WORK/screen.txt" \
  >/dev/null 2>&1 || true
end=$(date +%s.%N)
sip_cpu=$(awk -v a="$(cpu "$sip_pid")" -v b="$sip_before" 'BEGIN { print a - b }')
controller_cpu=$(awk -v a="$(cpu "$controller_pid")" -v b="$controller_before" 'BEGIN { print a - b }')
ok_calls=$(grep -m1 -E '^ +Successful call' "$E2E_WORK/screen.txt" | awk '{ print $NF }')
failed=$(grep -m1 -E '^ +Failed call' "$E2E_WORK/screen.txt" | awk '{ print $NF }')
rtd=$(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ResponseTime1(C)") c = i } END { if (c) print $c }' "$E2E_WORK/stat.csv")
awk -v ok="${ok_calls:-0}" -v failed="${failed:-0}" -v s="$start" -v e="$end" -v sip="$sip_cpu" \
  -v ctl="$controller_cpu" -v rate="$rate" -v rtd="$rtd" 'BEGIN {
    wall = e - s;
    printf "offered %d calls/s: %d completed, %d failed in %.1f s (%.1f calls/s, each held 1 s)\n", rate, ok, failed, wall, ok / wall;
    if (ok > 0) printf "CPU per call: SIP role %.2f ms (%.0f setups per core-second), controller and media node %.2f ms; INVITE to answer: %s\n", 1000 * sip / ok, ok / (sip > 0 ? sip : 1e-9), 1000 * ctl / ok, rtd;
  }'
