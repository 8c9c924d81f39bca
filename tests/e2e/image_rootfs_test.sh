#!/usr/bin/env bash
# The runtime image's root filesystem, judged without a container engine: deploy/stage-rootfs.sh
# (what deploy/Dockerfile runs) stages chorusd, chorusctl and their shared libraries from this
# build; the result holds nothing else, and chorusd runs from it as user 10001 with the whole
# root filesystem read-only (not even /tmp writable): it starts, answers health and /readyz, and
# drains on SIGTERM to exit 0. Needs root (chroot, a private mount namespace); skipped otherwise.
# With CHORUS_IMAGE_ROOTFS set to the root filesystem of a built image (deploy/check-image.sh
# exports one), the same checks judge that image instead of a staged root.
# Loopback only; TCP and UDP ports 44580-44599.
source "$(dirname "$0")/lib.sh"

if [[ $(id -u) -ne 0 ]] || ! unshare --mount true 2>/dev/null; then
  echo "skipped: needs root and mount namespaces (chroot into a read-only bind mount)"
  exit 77
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
if [[ -n ${CHORUS_IMAGE_ROOTFS:-} ]]; then
  rootfs=$CHORUS_IMAGE_ROOTFS
  [[ -x $rootfs/usr/local/bin/chorusd ]] || fail "no /usr/local/bin/chorusd in $rootfs"
  echo "stage-rootfs: the built image's root, $(du -sh "$rootfs" | cut -f1)" >"$E2E_WORK/stage.txt"
else
  rootfs=$E2E_WORK/rootfs
  "$root/deploy/stage-rootfs.sh" "$CHORUSD" "$CHORUSCTL" "$rootfs" >"$E2E_WORK/stage.txt" ||
    fail "stage-rootfs: $(cat "$E2E_WORK/stage.txt")"
fi

# Nothing but the two programs, shared libraries, the loader and three small files in /etc.
unexpected=$(cd "$rootfs" && find . -type f ! -path './usr/local/bin/chorusd' \
  ! -path './usr/local/bin/chorusctl' ! -path './etc/passwd' ! -path './etc/group' \
  ! -path './etc/nsswitch.conf' ! -regex '\./\(usr/\)?lib\(64\)?/.*\.so[.0-9]*' | head -5)
[[ -z $unexpected ]] || fail "the image root holds more than chorusd, chorusctl and libraries: $unexpected"
[[ $(find "$rootfs" -type f -perm -u+x -path '*/bin/*' | wc -l) == 2 ]] ||
  fail "the image root should hold exactly two programs"
for program in sh bash busybox apt dpkg; do
  [[ -z $(find "$rootfs" -name "$program" -print -quit) ]] || fail "the image root holds $program"
done
pass "staged: $(tail -1 "$E2E_WORK/stage.txt" | sed 's/^stage-rootfs: //'), only chorusd, chorusctl and libraries"

version=$(chroot --userspec=10001:10001 "$rootfs" /usr/local/bin/chorusd --version) ||
  fail "chorusd --version in the image root"
pass "chorusd runs from the image root: $version"

# chorusd media-node (the role whose internal API a session can be created through) from the
# read-only image root, as user 10001. unshare and chroot exec in turn, so
# the PID is chorusd's.
log=$E2E_WORK/image.log
unshare --mount bash -c '
  mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" || exit 3
  exec chroot --userspec=10001:10001 "$1" /usr/local/bin/chorusd media-node --dev \
    --grpc_listen=127.0.0.1:44580 --http_listen=127.0.0.1:44581 --media_port_min=44590 \
    --media_port_max=44599 --media_workers=1 --drain_min_wait=1s --drain_timeout=5s' \
  _ "$rootfs" >"$E2E_WORK/image.out" 2>"$log" &
pid=$!
E2E_PIDS+=("$pid")
for _ in $(seq 150); do
  grep -q '"event":"listening"' "$log" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || fail "chorusd from the read-only image root exited: $(cat "$log")"
  sleep 0.1
done
grep -q '"event":"listening"' "$log" || fail "chorusd from the image root did not listen in 15 s"
[[ $("$CHORUSCTL" --insecure --address=127.0.0.1:44580 health) == SERVING ]] || fail "health"
[[ $(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:44581/readyz) == 200 ]] || fail "/readyz"
"$CHORUSCTL" --insecure --address=127.0.0.1:44580 node CreateSession '{"session_id": "ro"}' \
  >/dev/null || fail "CreateSession in the read-only image"
pass "from a read-only root as user 10001: SERVING, /readyz 200, a media session created"
"$CHORUSCTL" --insecure --address=127.0.0.1:44580 node DeleteSession '{"name": "sessions/ro"}' \
  >/dev/null || fail "DeleteSession"
kill -TERM "$pid"
wait_exit "$pid" 10
[[ $EXIT_STATUS == 0 ]] || fail "chorusd exited with $EXIT_STATUS: $(tail -3 "$log")"
grep -q '"event":"drained"' "$log" || fail "no drained line"
pass "SIGTERM: drained and exited 0"
