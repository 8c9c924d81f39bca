#!/usr/bin/env bash
# `make run`: starts `chorusd all --dev` in the foreground on loopback, after saying where it
# listens and how to talk to it; rooms are kept in a state file under the build folder, so a
# restart keeps them. Ctrl-C (SIGINT) or SIGTERM drains and stops it.
set -euo pipefail
build_dir=${1:-build/release}
ports=${2:-40000-40999}
port_min=${ports%-*}
port_max=${ports#*-}

cat <<MSG
Chorus (development mode, plaintext, loopback only)
  gRPC API        127.0.0.1:7700   (chorus.v1.Rooms, health, reflection)
  metrics/health  http://127.0.0.1:9464/metrics  /healthz  /readyz
  media (UDP)     127.0.0.1 ports ${port_min}-${port_max}
  rooms kept in   ${build_dir}/dev-state.db   (survive a restart; delete it to start empty)
Try, in another terminal:
  ${build_dir}/tools/chorusctl/chorusctl --insecure health
Stop with Ctrl-C.
MSG

exec "${build_dir}/services/chorusd/chorusd" all --dev \
  --grpc_listen=127.0.0.1:7700 --http_listen=127.0.0.1:9464 \
  --state_file="${build_dir}/dev-state.db" \
  --media_address=127.0.0.1 --media_port_min="${port_min}" --media_port_max="${port_max}"
