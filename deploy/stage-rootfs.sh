#!/usr/bin/env bash
# Stages the root filesystem of the Chorus runtime image: chorusd and chorusctl, every shared
# library they load (as the dynamic loader resolves them on this Debian 12 system), the loader,
# and passwd/group entries for the non-root user 10001. Nothing else: no shell, no package
# manager. deploy/Dockerfile runs it in its builder stage; tests/deploy/rootfs_test.sh runs it
# against a local build and starts chorusd inside the result.
#
#   deploy/stage-rootfs.sh CHORUSD CHORUSCTL ROOTFS
set -euo pipefail

if (($# != 3)); then
  echo "usage: $0 CHORUSD CHORUSCTL ROOTFS" >&2
  exit 2
fi
chorusd=$1
chorusctl=$2
rootfs=$3

mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/tmp"
install -m 0755 "$chorusd" "$rootfs/usr/local/bin/chorusd"
install -m 0755 "$chorusctl" "$rootfs/usr/local/bin/chorusctl"
# Debug symbols stay in the build; the image carries the code only.
strip --strip-unneeded "$rootfs/usr/local/bin/chorusd" "$rootfs/usr/local/bin/chorusctl"

# Every library ldd resolves ("name => /path (addr)") and the loader ("/lib64/ld-... (addr)"),
# copied as regular files under the path the loader looks them up by.
libs=$(ldd "$rootfs/usr/local/bin/chorusd" "$rootfs/usr/local/bin/chorusctl" |
  awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' | sort -u)
if grep -q 'not found' < <(ldd "$rootfs/usr/local/bin/chorusd" "$rootfs/usr/local/bin/chorusctl"); then
  echo "stage-rootfs: a shared library is missing:" >&2
  ldd "$rootfs/usr/local/bin/chorusd" "$rootfs/usr/local/bin/chorusctl" | grep 'not found' >&2
  exit 1
fi
for lib in $libs; do
  cp --parents -L "$lib" "$rootfs/"
done
# libgcc_s is loaded at run time by thread cancellation and unwinding even where ldd does not
# list it.
for extra in /lib/x86_64-linux-gnu/libgcc_s.so.1; do
  [[ -e $extra && ! -e $rootfs$extra ]] && cp --parents -L "$extra" "$rootfs/"
done

# The user the image runs as, for tools that look names up (ps, logs); no home, no shell.
echo 'chorus:x:10001:10001:Chorus:/nonexistent:/nonexistent' >"$rootfs/etc/passwd"
echo 'chorus:x:10001:' >"$rootfs/etc/group"
# Hosts from /etc/hosts first, then DNS (the controller resolves the media nodes' headless
# Service); Kubernetes mounts /etc/hosts and /etc/resolv.conf.
echo 'hosts: files dns' >"$rootfs/etc/nsswitch.conf"
chmod 1777 "$rootfs/tmp"
echo "stage-rootfs: $(find "$rootfs" -type f | wc -l) files, $(du -sh "$rootfs" | cut -f1)"
