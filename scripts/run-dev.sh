#!/usr/bin/env bash
# `make run`: starts `chorusd all --dev` on loopback, says where it listens, opens a demo room
# with a host and a guest invitation and prints their links, so that two browser tabs can talk to
# each other through Chorus. Rooms are kept in a state file under the build folder, so a restart
# keeps them (CHORUS_DEV_STATE names another file). Ctrl-C (SIGINT) or SIGTERM drains and stops
# it.
set -euo pipefail
build_dir=${1:-build/release}
ports=${2:-40000-40999}
web_port=${3:-8080}
port_min=${ports%-*}
port_max=${ports#*-}
chorusd="${build_dir}/services/chorusd/chorusd"
chorusctl="${build_dir}/tools/chorusctl/chorusctl"
state_file=${CHORUS_DEV_STATE:-${build_dir}/dev-state.db}

cat <<MSG
Chorus (development mode, plaintext, loopback only)
  web client      http://127.0.0.1:${web_port}/   (browsers; invitation links below)
  gRPC API        127.0.0.1:7700   (chorus.v1.Rooms, health, reflection)
  metrics/health  http://127.0.0.1:9464/metrics  /healthz  /readyz
  media (UDP)     127.0.0.1 ports ${port_min}-${port_max}
  rooms kept in   ${state_file}   (survive a restart; delete it to start empty)
MSG

"$chorusd" all --dev \
  --grpc_listen=127.0.0.1:7700 --http_listen=127.0.0.1:9464 \
  --web_listen="127.0.0.1:${web_port}" \
  --state_file="${state_file}" \
  --media_address=127.0.0.1 --media_port_min="${port_min}" --media_port_max="${port_max}" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM

ctl() { "$chorusctl" --insecure --address=127.0.0.1:7700 "$@"; }
ready=0
for _ in $(seq 100); do
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  if ctl health >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.1
done
if ((ready)); then
  # The demo room: a consultation with a waiting room. Kept across restarts by the state file;
  # invitations are single-use, so each start makes a fresh pair.
  ctl room create consultation --room_id=demo --lobby=true >/dev/null 2>&1 || true
  link() { ctl invite create demo "$@" 2>/dev/null | sed -nE 's/.* link=([^ ]+) .*/\1/p'; }
  host_link=$(link host --pseudonym=Clinician || true)
  guest_link=$(link guest --pseudonym=Patient || true)
  if [[ -n $host_link && -n $guest_link ]]; then
    cat <<MSG

Talk to yourself through Chorus: open these two links in two tabs (or two browsers) of this
machine. Each link works once; restart (or use chorusctl) for new ones.
  the patient     ${guest_link}
                  (lands in the waiting room)
  the clinician   ${host_link}
                  (sees the patient waiting and lets them in)
MSG
  fi
  cat <<MSG

Try, in another terminal:
  ${chorusctl} --insecure health
  ${chorusctl} --insecure invite create demo guest
Stop with Ctrl-C.
MSG
fi
status=0
wait "$pid" || status=$?
# A signal interrupts the first wait (status 128+n): wait again, for the drain to finish and for
# chorusd's own status (bash keeps it when chorusd is gone already).
if ((status > 128)); then
  status=0
  wait "$pid" || status=$?
fi
exit "$status"
