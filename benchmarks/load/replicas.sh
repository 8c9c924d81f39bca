#!/usr/bin/env bash
# Joins per second through controller replicas on PostgreSQL: one `chorusd media-node`, and one or
# two `chorusd controller` processes on a throwaway PostgreSQL database (tests/e2e/postgres_lib.sh),
# with a single controller on a SQLite state file beside them for reference. join_rate.py joins
# ROOMS x PER_ROOM participants with single-use invites, then as many again with the rooms' shared
# PIN (every PIN join checks an Argon2id hash: counted apart), spreading the joins over the
# controllers. RUNS runs of each, every run on fresh processes and a fresh database; prints each
# run and the medians.
# Usage: benchmarks/load/replicas.sh [BUILD_DIR] [ROOMS] [PER_ROOM] [RUNS] [THREADS]
#   (defaults build/release, 20 rooms x 20 joins, 3 runs, 8 client threads)
# Loopback only: PostgreSQL (fsync on) on a unix socket, gRPC 127.0.0.1:49960-49962, media 127.0.0.2 ports
# 52000-52999. JSON lines go to $BENCH_OUT/replicas.jsonl (default BUILD_DIR/bench/load).
set -euo pipefail
build_dir=${1:-build/release}
rooms=${2:-20}
per_room=${3:-20}
runs=${4:-3}
threads=${5:-8}
export CHORUSD=${CHORUSD:-$build_dir/services/chorusd/chorusd}
export CHORUSCTL=${CHORUSCTL:-$build_dir/tools/chorusctl/chorusctl}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/tests/e2e/lib.sh"
source "$root/tests/e2e/postgres_lib.sh"
out=${BENCH_OUT:-$build_dir/bench/load}
mkdir -p "$out"
report="$out/replicas.jsonl"
: >"$report"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
# As a production database writes: fsync on (the tests' throwaway servers run without it).
start_postgres 49963 fsync=on

# stop PID...: SIGTERM, then wait for each to exit.
stop() {
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

# one_run SETUP RUN: fresh media node, controllers and store; both modes; JSON lines to $report.
one_run() {
  local setup=$1 run=$2 pids=() addresses=() store=()
  start_chorusd "node-$setup-$run" media-node --dev --grpc_listen=127.0.0.1:49960 \
    --http_listen=127.0.0.1:0 --media_address=127.0.0.2 --media_port_min=52000 \
    --media_port_max=52999 --drain_timeout=1s
  pids+=("$CHORUSD_PID")
  case $setup in
    sqlite) store=(--state_file="$E2E_WORK/state-$run.db") ;;
    *)
      new_database "bench_${setup/-/_}_$run" "$E2E_WORK/url-$setup-$run"
      store=(--postgres_url_file="$E2E_WORK/url-$setup-$run")
      ;;
  esac
  local count=1
  [[ $setup == postgres-2 ]] && count=2
  for ((i = 1; i <= count; i++)); do
    start_chorusd "controller-$setup-$run-$i" controller --dev \
      --grpc_listen=127.0.0.1:$((49960 + i)) --http_listen=127.0.0.1:0 \
      --media_nodes=127.0.0.1:49960 --drain_timeout=1s "${store[@]}"
    pids+=("$CHORUSD_PID")
    addresses+=("127.0.0.1:$((49960 + i))")
  done
  local mode line
  for mode in invite pin; do
    line=$(/usr/bin/python3 "$here/join_rate.py" --addresses="$(IFS=,; echo "${addresses[*]}")" \
      --proto_dir="$root/proto" --mode="$mode" --rooms="$rooms" --per_room="$per_room" \
      --threads="$threads" --first_port=$((53000 + (run % 2) * 1000))) ||
      fail "join_rate.py $setup $mode run $run"
    line=${line/\{/\{\"setup\": \"$setup\", \"run\": $run, }
    echo "$line" | tee -a "$report"
  done
  stop "${pids[@]}"
}

for setup in sqlite postgres-1 postgres-2; do
  for ((run = 1; run <= runs; run++)); do one_run "$setup" "$run"; done
done

# Medians per setup and mode.
/usr/bin/python3 - "$report" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print()
print("| store, controllers | joins | invite joins/s (median) | p50 / p99 ms | PIN joins/s (median) | p50 / p99 ms |")
print("|---|---|---|---|---|---|")
for setup, label in (("sqlite", "SQLite, 1"), ("postgres-1", "PostgreSQL, 1"),
                     ("postgres-2", "PostgreSQL, 2")):
    cells = []
    for mode in ("invite", "pin"):
        runs = [r for r in rows if r["setup"] == setup and r["mode"] == mode]
        if not runs:
            cells += ["-", "-"]
            continue
        rate = statistics.median(r["joins_per_second"] for r in runs)
        p50 = statistics.median(r["latency_ms_p50"] for r in runs)
        p99 = statistics.median(r["latency_ms_p99"] for r in runs)
        failed = sum(r["joins"] - r["ok"] for r in runs)
        cells += [f"{rate:.0f}" + (f" ({failed} refused)" if failed else ""), f"{p50:.0f} / {p99:.0f}"]
    joins = rows[0]["joins"] if rows else 0
    print(f"| {label} | {joins} x {len([r for r in rows if r['setup'] == setup]) // 2} runs | " +
          " | ".join(cells) + " |")
PY
