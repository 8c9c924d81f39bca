#!/usr/bin/env bash
# Plots of a sweep of janus_audiobridge.sh runs (one JSON report per server and configuration,
# named SERVER-ROOMSxSIZE-RUN.json): server CPU (cores) against participants, and onset-to-mix
# delay percentiles against participants, for Chorus and Janus. Needs gnuplot (Debian's
# gnuplot-nox); says so and exits 0 without it.
# Usage: benchmarks/compare/plot.sh REPORT_DIR OUT_DIR
set -euo pipefail
reports=${1:?usage: plot.sh REPORT_DIR OUT_DIR}
out=${2:?usage: plot.sh REPORT_DIR OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
LOADGEN=unused
source "$here/../load/load_lib.sh"
if ! command -v gnuplot >/dev/null; then
  echo "plot: gnuplot is not installed (apt-get install gnuplot-nox); no plots"
  exit 0
fi
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/chorus-plot.XXXXXX")
trap 'rm -rf "$work"' EXIT
for server in chorus janus; do
  : >"$work/$server.dat"
  for file in "$reports"/"$server"-*x*-*.json; do
    [[ -f $file ]] || continue
    printf '%s %s %s %s %s %s\n' "$(json_value "$file" participants)" \
      "$(json_value "$file" server_cores)" "$(json_value "$file" delay_ms.p50)" \
      "$(json_value "$file" delay_ms.p95)" "$(json_value "$file" delay_ms.p99)" \
      "$(json_value "$file" room_size)" >>"$work/$server.dat"
  done
  sort -n -o "$work/$server.dat" "$work/$server.dat"
done
[[ -s $work/chorus.dat || -s $work/janus.dat ]] || { echo "plot: no reports in $reports"; exit 0; }
cp "$work/chorus.dat" "$out/cpu-chorus.dat"
cp "$work/janus.dat" "$out/cpu-janus.dat"
# One line per server and room size (column 6).
cpu_plots=()
delay_plots=()
for server in chorus janus; do
  [[ $server == chorus ]] && name=Chorus || name="Janus AudioBridge"
  for size in $(awk '{ print $6 }' "$work/$server.dat" | sort -nu); do
    awk -v s="$size" '$6 == s' "$work/$server.dat" >"$work/$server-$size.dat"
    cpu_plots+=("\"$work/$server-$size.dat\" using 1:2 with linespoints lw 2 title \"$name, $size-party rooms\"")
    delay_plots+=("\"$work/$server-$size.dat\" using 1:3 with linespoints lw 2 title \"$name p50, $size-party\"")
    delay_plots+=("\"$work/$server-$size.dat\" using 1:5 with linespoints lw 2 dt 2 title \"$name p99, $size-party\"")
  done
done
join_plots() { local IFS=,; echo "$*"; }
gnuplot <<GP
set terminal pngcairo size 800,500 font "sans,10"
set grid
set key top left
set output "$out/cpu.png"
set title "Server CPU against participants (plain RTP, same clip and talk pattern)"
set xlabel "participants"
set ylabel "server CPU (cores)"
plot $(join_plots "${cpu_plots[@]}")
set output "$out/delay.png"
set title "Talk-spurt onset to decoded mix (sampled listeners)"
set ylabel "delay (ms)"
set yrange [0:*]
set key right center
plot $(join_plots "${delay_plots[@]}")
GP
echo "plot: $out/cpu.png $out/delay.png"
