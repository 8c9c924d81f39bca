#!/usr/bin/env bash
# Controller <-> media node over mutual TLS, as deployed (issue: Room controller): one CA signs the
# node's and the controller's certificates. The node refuses to start without client
# certificates, refuses clients without a certificate of that CA, and serves the controller,
# which checks the node's certificate by a service name (--media_node_tls_name) while reaching it
# by IP. A controller with a certificate from another CA gets nothing from the node.
source "$(dirname "$0")/lib.sh"

make_ca cluster-ca
make_ca rogue-ca
make_cert node cluster-ca "DNS:chorus-media,IP:127.0.0.1"
make_cert controller cluster-ca "IP:127.0.0.1"
make_cert rogue rogue-ca "IP:127.0.0.1"
token=$(openssl rand -hex 32)
printf '%s\n' "$token" >"$E2E_WORK/tokens"
cp "$E2E_WORK/tokens" "$E2E_WORK/token"

expect_refusal "require_client_cert" media-node --grpc_listen=127.0.0.1:0 \
  --http_listen=127.0.0.1:0 --tls_cert="$E2E_WORK/node.crt" --tls_key="$E2E_WORK/node.key"

start_chorusd node media-node --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --tls_cert="$E2E_WORK/node.crt" --tls_key="$E2E_WORK/node.key" \
  --tls_client_ca="$E2E_WORK/cluster-ca.crt" --require_client_cert \
  --media_port_min=45000 --media_port_max=45049 --media_workers=1 --node_id=node-m
node=$GRPC_ADDR

# The node, asked directly: without a client certificate the handshake fails; with the
# controller's certificate the internal API answers.
status=0
"$CHORUSCTL" --address="$node" --tls_ca="$E2E_WORK/cluster-ca.crt" --timeout=3s \
  node GetLoad '{}' >"$E2E_WORK/nocert.txt" 2>&1 || status=$?
[[ $status != 0 ]] || fail "the node answered a client without a certificate"
pass "the node refuses a client without a certificate"
"$CHORUSCTL" --address="$node" --tls_ca="$E2E_WORK/cluster-ca.crt" --timeout=5s \
  --tls_cert="$E2E_WORK/controller.crt" --tls_key="$E2E_WORK/controller.key" \
  node GetLoad '{}' >"$E2E_WORK/load.txt" || fail "the node refused the cluster's certificate"
grep -q node-m "$E2E_WORK/load.txt" || fail "no load report: $(cat "$E2E_WORK/load.txt")"
pass "the node answers a client with a certificate of the cluster CA"

# start_controller NAME CERT CA: a controller with its own certificate, trusting CA for nodes.
start_controller() {
  start_chorusd "$1" controller --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
    --tls_cert="$E2E_WORK/$2.crt" --tls_key="$E2E_WORK/$2.key" \
    --tls_client_ca="$E2E_WORK/$3.crt" --api_tokens_file="$E2E_WORK/tokens" \
    --media_nodes="$node" --media_node_tls_name=chorus-media
}
start_controller controller controller cluster-ca
ctl=("$CHORUSCTL" --address="$GRPC_ADDR" --tls_ca="$E2E_WORK/cluster-ca.crt"
  --token_file="$E2E_WORK/token" --timeout=5s)
key=$(head -c 30 /dev/urandom | base64 -w0)
"${ctl[@]}" room create meeting --access=shared-pin --guest_pin=1357 --room_id=probe \
  >/dev/null || fail "room create"
# join_when_ready OUT CTL... -- JOIN_ARGS: joins, retrying while the controller learns the node is
# ready from its first load poll (within a second or two); fails without a media answer.
join_when_ready() {
  local out=$1
  shift
  local client=()
  while [[ $1 != -- ]]; do
    client+=("$1")
    shift
  done
  shift
  for _ in $(seq 30); do
    if "${client[@]}" --json join "$@" >"$E2E_WORK/$out.json" 2>"$E2E_WORK/$out.err"; then
      grep -q '"port"' "$E2E_WORK/$out.json" ||
        fail "no media answer: $(cat "$E2E_WORK/$out.json")"
      return 0
    fi
    sleep 0.2
  done
  fail "join ($out): $(cat "$E2E_WORK/$out.err")"
}
join_when_ready join "${ctl[@]}" -- probe --pin=1357 --receive=127.0.0.1:44000 --key="$key"
[[ $("${ctl[@]}" --json room get probe | grep -o '"media_node": "[^"]*"' | cut -d'"' -f4) == \
  "$node" ]] || fail "the room is not on the node"
pass "the controller placed the room on the node over mutual TLS and the join got its answer"

# A controller whose certificate comes from another CA: the node never answers it, so it has no
# ready node and refuses the join.
start_controller rogue rogue cluster-ca
rogue=("$CHORUSCTL" --address="$GRPC_ADDR" --tls_ca="$E2E_WORK/rogue-ca.crt"
  --token_file="$E2E_WORK/token" --timeout=5s)
"${rogue[@]}" room create meeting --access=shared-pin --guest_pin=1357 --room_id=rogue \
  >/dev/null || fail "room create on the rogue controller"
sleep 2.5 # several load polls
status=0
"${rogue[@]}" join rogue --pin=1357 --receive=127.0.0.1:44000 --key="$key" \
  >/dev/null 2>"$E2E_WORK/rogue.err" || status=$?
[[ $status != 0 ]] && grep -q RESOURCE_EXHAUSTED "$E2E_WORK/rogue.err" ||
  fail "a controller with a foreign certificate reached the node: $(cat "$E2E_WORK/rogue.err")"
[[ $("${ctl[@]}" --json room get probe | grep -c '"participant_count": 1') == 1 ]] ||
  fail "the real controller's room changed"
pass "a controller with a certificate of another CA gets no media (RESOURCE_EXHAUSTED)"

for log in node controller rogue; do
  if grep -q -- "$token" "$E2E_WORK/$log.log"; then fail "the token appears in the $log log"; fi
done
pass "no token in any log"

# The public API faces the platform with the hospital's PKI, the media nodes with the cluster's:
# the controller shows a hospital certificate to API clients and its cluster certificate to the
# node (--media_node_tls_*).
make_ca hospital-ca
make_cert public hospital-ca "IP:127.0.0.1"
start_chorusd hospital controller --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --tls_cert="$E2E_WORK/public.crt" --tls_key="$E2E_WORK/public.key" \
  --api_tokens_file="$E2E_WORK/tokens" --media_nodes="$node" --media_node_tls_name=chorus-media \
  --media_node_tls_cert="$E2E_WORK/controller.crt" --media_node_tls_key="$E2E_WORK/controller.key" \
  --media_node_tls_ca="$E2E_WORK/cluster-ca.crt"
public=("$CHORUSCTL" --address="$GRPC_ADDR" --tls_ca="$E2E_WORK/hospital-ca.crt"
  --token_file="$E2E_WORK/token" --timeout=5s)
"$CHORUSCTL" --address="$GRPC_ADDR" --tls_ca="$E2E_WORK/cluster-ca.crt" \
  --token_file="$E2E_WORK/token" --timeout=5s room list >/dev/null 2>&1 &&
  fail "the public API showed a cluster certificate"
"${public[@]}" room create meeting --access=shared-pin --guest_pin=2468 --room_id=split \
  >/dev/null || fail "room create through the hospital certificate"
join_when_ready split "${public[@]}" -- split --pin=2468 --receive=127.0.0.1:44002 --key="$key"
pass "public API on the hospital's certificate, media nodes over the cluster's mutual TLS"
