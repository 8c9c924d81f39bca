#!/usr/bin/env bash
# Runs a command (a test run) in a network namespace of its own that has only loopback, where the
# kernel hands out ephemeral ports from 61000-65535 only.
#
# The tests listen on fixed ports below 61000, each test in a range of its own. On the usual
# ephemeral range (32768-60999) an outgoing connection of one test (a gRPC client, a metrics
# scrape) may be given the very port another test is about to listen on, and that test then
# fails with "address already in use" now and then. The namespace also keeps the tests away from
# whatever else listens on this machine. Without root, or where namespaces are not allowed, the
# command runs as it is.
set -euo pipefail
readonly EPHEMERAL_PORTS="61000 65535"
if [[ -z ${CHORUS_TEST_NETNS:-} && $(id -u) -eq 0 ]] && unshare --net true 2>/dev/null; then
  exec unshare --net env CHORUS_TEST_NETNS=1 "$0" "$@"
fi
if [[ -n ${CHORUS_TEST_NETNS:-} ]]; then
  ip link set lo up
  echo "$EPHEMERAL_PORTS" >/proc/sys/net/ipv4/ip_local_port_range
fi
exec "$@"
