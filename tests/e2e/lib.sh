# Shared helpers of the end-to-end scripts (sourced). Every process started with start_chorusd is
# killed, and the scratch folder removed, when the script exits, whatever happened.
set -euo pipefail

: "${CHORUSD:?set CHORUSD to the chorusd binary}"
: "${CHORUSCTL:?set CHORUSCTL to the chorusctl binary}"

E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/chorus-e2e.XXXXXX")
# Python tools import each other: no bytecode caches written into the source tree.
export PYTHONDONTWRITEBYTECODE=1
# A script in a network namespace of its own (the browser tests) keeps ephemeral ports above the
# tests' fixed ports, as scripts/test-netns.sh does for a whole test run.
if [[ -n ${CHORUS_E2E_NETNS:-} ]]; then
  echo "61000 65535" >/proc/sys/net/ipv4/ip_local_port_range
fi
E2E_PIDS=()

e2e_cleanup() {
  local pid
  # TERM first: `timeout` passes it on to the client it runs (a KILL would orphan the client).
  for pid in "${E2E_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 0.3
  for pid in "${E2E_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${E2E_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$E2E_WORK"
}
trap e2e_cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  local log
  for log in "$E2E_WORK"/*.log; do
    [[ -f $log ]] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }
  done
  exit 1
}

pass() { echo "ok: $*"; }

# start_chorusd NAME ARGS...: starts chorusd in the background with its log in $E2E_WORK/NAME.log,
# waits (at most 15 s) for its "listening" line, and sets CHORUSD_PID, GRPC_ADDR and HTTP_ADDR.
start_chorusd() {
  local name=$1
  shift
  local log="$E2E_WORK/$name.log"
  "$CHORUSD" "$@" >"$E2E_WORK/$name.out" 2>"$log" &
  CHORUSD_PID=$!
  E2E_PIDS+=("$CHORUSD_PID")
  local line=""
  for _ in $(seq 150); do
    line=$(grep -m1 '"event":"listening"' "$log" 2>/dev/null || true)
    [[ -n $line ]] && break
    kill -0 "$CHORUSD_PID" 2>/dev/null || fail "chorusd $name exited before listening"
    sleep 0.1
  done
  [[ -n $line ]] || fail "chorusd $name did not listen within 15 s"
  GRPC_ADDR=$(sed -E 's/.*"grpc":"([^"]+)".*/\1/' <<<"$line")
  HTTP_ADDR=$(sed -E 's/.*"http":"([^"]+)".*/\1/' <<<"$line")
}

# wait_exit PID SECONDS: waits for the process (a child of this shell: do not call it in a
# command substitution) to end and sets EXIT_STATUS; fails on timeout.
wait_exit() {
  local pid=$1 seconds=$2
  for _ in $(seq $((seconds * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then
      EXIT_STATUS=0
      wait "$pid" || EXIT_STATUS=$?
      return 0
    fi
    sleep 0.1
  done
  fail "process $pid still running after ${seconds}s"
}

# expect_refusal TEXT ARGS...: chorusd ARGS must exit non-zero at once, saying TEXT.
expect_refusal() {
  local text=$1
  shift
  local out="$E2E_WORK/refusal.txt" status=0
  timeout 10 "$CHORUSD" "$@" >"$out" 2>&1 || status=$?
  [[ $status -ne 0 && $status -ne 124 ]] || fail "chorusd $* should refuse to start (status $status)"
  grep -q -- "$text" "$out" || fail "chorusd $* should say '$text', said: $(cat "$out")"
  pass "chorusd $* refused: $(head -c 160 "$out")"
}

# make_ca NAME: a throwaway P-256 certificate authority, $E2E_WORK/NAME.crt and NAME.key.
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj "/CN=$1" -keyout "$E2E_WORK/$1.key" -out "$E2E_WORK/$1.crt" 2>/dev/null ||
    fail "ca $1"
}

# make_cert NAME CA SUBJECT_ALT_NAMES: a P-256 key and a certificate signed by CA (CA.crt/CA.key).
make_cert() {
  local name=$1 ca=$2 san=$3
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
    -keyout "$E2E_WORK/$name.key" -out "$E2E_WORK/$name.csr" 2>/dev/null || fail "csr $name"
  printf 'subjectAltName=%s\n' "$san" >"$E2E_WORK/$name.ext"
  openssl x509 -req -in "$E2E_WORK/$name.csr" -CA "$E2E_WORK/$ca.crt" -CAkey "$E2E_WORK/$ca.key" \
    -CAcreateserial -days 1 -extfile "$E2E_WORK/$name.ext" -out "$E2E_WORK/$name.crt" \
    2>/dev/null || fail "certificate $name"
}
