# A throwaway PostgreSQL server for the end-to-end tests and the benchmarks (sourced after
# lib.sh): initdb into the scratch folder, the server listening on a unix socket there only (no
# TCP port), stopped (fast shutdown) when the script exits, before lib.sh's cleanup removes the
# folder. PostgreSQL refuses to run as root: as root, it runs as `nobody`.

pg_bin=${CHORUS_POSTGRES_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[[ -n $pg_bin && -x $pg_bin/initdb && -x $pg_bin/postgres ]] ||
  fail "the PostgreSQL server is not installed (scripts/install-deps.sh installs postgresql)"
PG_PID=""

stop_postgres() {
  [[ -n $PG_PID ]] || return 0
  kill -INT "$PG_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$PG_PID" 2>/dev/null || true
  wait "$PG_PID" 2>/dev/null || true
  PG_PID=""
}
trap 'stop_postgres; e2e_cleanup' EXIT

# start_postgres PORT [SETTING=VALUE...]: the server on $E2E_WORK/pg/.s.PGSQL.PORT, fsync off
# unless a SETTING says otherwise; sets PG_DIR and PG_PORT.
start_postgres() {
  PG_PORT=$1
  shift
  local settings=(-c fsync=off) setting
  for setting in "$@"; do settings+=(-c "$setting"); done
  PG_DIR="$E2E_WORK/pg"
  mkdir -m 0755 "$PG_DIR"
  local as=()
  if [[ $(id -u) -eq 0 ]]; then
    chmod 0711 "$E2E_WORK"  # nobody passes through to its own folder (and sees nothing else)
    chown nobody: "$PG_DIR"
    as=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups --)
  fi
  "${as[@]}" "$pg_bin/initdb" -D "$PG_DIR/data" -U chorus --auth=trust --no-sync -E UTF8 \
    --locale=C >"$E2E_WORK/initdb.log" 2>&1 || fail "initdb: $(tail -5 "$E2E_WORK/initdb.log")"
  # Started here, not in a function run in the background (a subshell): $! is the server.
  "${as[@]}" "$pg_bin/postgres" -D "$PG_DIR/data" -k "$PG_DIR" -p "$PG_PORT" \
    -c listen_addresses= -c max_connections=200 "${settings[@]}" >"$E2E_WORK/postgres.log" 2>&1 &
  PG_PID=$!
  for _ in $(seq 100); do
    "$pg_bin/pg_isready" -q -h "$PG_DIR" -p "$PG_PORT" -U chorus && return 0
    sleep 0.1
  done
  fail "postgres did not start: $(tail -5 "$E2E_WORK/postgres.log")"
}

# psql ARGS...: as the server's superuser (chorus), on its socket.
psql() { "$pg_bin/psql" -h "$PG_DIR" -p "$PG_PORT" -U chorus -qAt "$@"; }

# new_database NAME FILE: creates database NAME and writes its connection URI to FILE (0600), as
# the Helm chart mounts a Secret's key. The URI carries a password the server never asks for
# (trust), here to show that it reaches no log.
new_database() {
  psql -d postgres -c "CREATE DATABASE $1" || fail "create database $1"
  printf 'postgresql://chorus:not-in-any-log@/%s?host=%s&port=%s\n' "$1" "$PG_DIR" "$PG_PORT" >"$2"
  chmod 0600 "$2"
}
