#!/usr/bin/env bash
# `make bench`: runs every micro benchmark in full and prints the machine it ran on, so results
# can be copied into docs/benchmarks.md with their context. Extra arguments go to each benchmark
# (for example --benchmark_filter=Mix). Then the load scenarios (benchmarks/load) and the
# side-by-side run against Janus AudioBridge (benchmarks/compare, when Debian's janus is
# installed) drive real servers on loopback with chorus-loadgen; their JSON reports and plots go
# to BUILD_DIR/bench. CHORUS_BENCH_LOAD=0 skips them (about 20 minutes).
set -euo pipefail
build_dir=${1:-build/release}
shift || true

echo "machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
mapfile -t benchmarks < <(find "$build_dir/benchmarks" -type f -name 'chorus_*_benchmark' -perm -u+x | sort)
if [[ ${#benchmarks[@]} -eq 0 ]]; then
  echo "no benchmarks built in $build_dir (configure with -DCHORUS_BUILD_BENCHMARKS=ON)"
  exit 1
fi
for benchmark in "${benchmarks[@]}"; do
  echo
  echo "== $(basename "$benchmark")"
  "$benchmark" --benchmark_counters_tabular=true "$@"
done

if [[ ${CHORUS_BENCH_LOAD:-1} == 0 ]]; then
  exit 0
fi
out=$build_dir/bench
echo
echo "== load scenarios (benchmarks/load)"
BENCH_OUT=$out/load benchmarks/load/consultations.sh "$build_dir"
BENCH_OUT=$out/load benchmarks/load/lecture.sh "$build_dir"
BENCH_OUT=$out/load benchmarks/load/send_floor.sh "$build_dir"
BENCH_OUT=$out/load benchmarks/load/ramp.sh "$build_dir"
BENCH_OUT=$out/load benchmarks/load/video.sh "$build_dir"
BENCH_OUT=$out/load benchmarks/load/webrtc.sh "$build_dir"
echo
echo "== side by side with Janus AudioBridge (benchmarks/compare)"
# The peer and the plotter are Debian packages that neither the build nor the tests need.
missing=()
command -v janus >/dev/null || missing+=(janus)
command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
if [[ ${#missing[@]} -gt 0 && $(id -u) == 0 ]]; then
  echo "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null || echo "could not install ${missing[*]}"
fi
if command -v janus >/dev/null; then
  BENCH_OUT=$out/compare benchmarks/compare/janus_audiobridge.sh "$build_dir"
  BENCH_OUT=$out/sweep benchmarks/compare/janus_audiobridge.sh "$build_dir" 8 1 "5x5 10x5 20x5 40x5 2x30 4x30 8x30"
  benchmarks/compare/plot.sh "$out/sweep" "$out/plots"
else
  echo "skipped: janus is not installed (as root: apt-get install --no-install-recommends janus)"
fi
