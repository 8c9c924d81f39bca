#!/usr/bin/env bash
# Builds the container image from deploy/Dockerfile and judges the image itself with the checks
# of tests/e2e/image_rootfs_test.sh: its root holds only chorusd, chorusctl, their shared
# libraries and /etc/passwd, group and nsswitch.conf; chorusd runs from it as user 10001 with the
# whole root read-only, answers health and /readyz, creates a media session, and drains on SIGTERM
# to exit 0. The image's files are exported and run in a private mount namespace (chroot), so the
# check needs root but no running container engine beyond `build`, `create` and `export`.
#
# Usage (as root, from the repository root, after `make build` for the host's chorusctl):
#   deploy/check-image.sh [BUILD_DIR]      (default build/release)
# CONTAINER_ENGINE picks docker or podman (default: whichever is installed, docker first);
# CHORUS_IMAGE_BUILD_FLAGS adds build flags (podman on a host without cgroup v2 controllers:
# "--isolation=chroot --network=host"). The base image debian:12 comes from the engine's
# registry, or from a local image of that name.
set -euo pipefail
build_dir=${1:-build/release}
engine=${CONTAINER_ENGINE:-}
if [[ -z $engine ]]; then
  if command -v docker >/dev/null; then engine=docker
  elif command -v podman >/dev/null; then engine=podman
  else echo "check-image: neither docker nor podman is installed" >&2; exit 1
  fi
fi
tag=chorus:check-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/chorus-image.XXXXXX")
container=
cleanup() {
  [[ -n $container ]] && "$engine" rm -f "$container" >/dev/null 2>&1 || true
  "$engine" rmi -f "$tag" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck disable=SC2086  # the flags are words
"$engine" build ${CHORUS_IMAGE_BUILD_FLAGS:-} -f deploy/Dockerfile -t "$tag" .
echo "check-image: $("$engine" image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }')," \
  "user $("$engine" image inspect --format '{{.Config.User}}' "$tag")," \
  "entrypoint $("$engine" image inspect --format '{{json .Config.Entrypoint}}' "$tag")"
[[ $("$engine" image inspect --format '{{.Config.User}}' "$tag") == 10001:10001 ]] ||
  { echo "check-image: the image does not run as 10001:10001" >&2; exit 1; }
container=$("$engine" create "$tag")
mkdir "$work/rootfs"
"$engine" export "$container" | tar -C "$work/rootfs" -x
# The engine adds empty mount points (/dev, /proc, /sys, /etc/hosts, ...) to every container's
# files; they are not part of the image.
find "$work/rootfs" -type f -empty -delete
CHORUS_IMAGE_ROOTFS=$work/rootfs CHORUSD=$build_dir/services/chorusd/chorusd \
  CHORUSCTL=$build_dir/tools/chorusctl/chorusctl bash tests/e2e/image_rootfs_test.sh
