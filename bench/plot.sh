#!/bin/bash
# Plot an ipcq-bench run (docs/bench.md, "Shared-memory path"): grouped
# bars of msg/s, log scale, for 64 B 1x1, 64 B 4x4, 4 KiB 1x1 and 1 MiB
# 1x1, one bar per system: the shared-memory path, the socket path and
# the comparison peers. Systems absent from the run (or skipped, or
# failed) are left out; a workload a system does not have is a gap.
#
#   bench/plot.sh OUTPUT_OF_IPCQ_BENCH [PNG]    (default docs/bench-shm.png)
#
# Uses the "median case=" lines of a multi-round run, else the case
# lines of a one-round run. Needs gnuplot (bench/install-peers.sh
# installs gnuplot-nox).
set -euo pipefail

usage() {
	echo "usage: $0 BENCH_OUTPUT [PNG]" >&2
	exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
in=$1
[ -r "$in" ] || { echo "plot.sh: cannot read $in" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
out=${2:-$here/../docs/bench-shm.png}
command -v gnuplot >/dev/null ||
	{ echo "plot.sh: gnuplot not found (bench/install-peers.sh)" >&2; exit 1; }

# System (case name) and the label it gets, in bar order.
systems="ipcq.shm.batched ipcq.batched ring.spin ring.futex zmq.pushpull
posix.mq redis py.mpqueue nng.pushpull"
declare -A label=(
	[ipcq.shm.batched]="ipcq shm, batched"
	[ipcq.batched]="ipcq socket, batched"
	[ring.spin]="SPSC ring, spin"
	[ring.futex]="SPSC ring, futex"
	[zmq.pushpull]="ZeroMQ PUSH/PULL"
	[posix.mq]="POSIX mq"
	[redis]="Redis list"
	[py.mpqueue]="Python mp.Queue"
	[nng.pushpull]="nng PUSH/PULL"
)
workloads="64/1/1 64/4/4 4096/1/1 1048576/1/1"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "name size p c msg_per_s" per throughput case: medians if present.
if grep -q '^median case=' "$in"; then
	grep '^median case=' "$in" | sed 's/^median //' >"$tmp/lines"
else
	grep '^case=' "$in" | grep -v -e ' FAIL ' -e ' skipped ' >"$tmp/lines" || :
fi
awk '{
	delete kv
	for (i = 1; i <= NF; i++) {
		eq = index($i, "=")
		if (eq) kv[substr($i, 1, eq - 1)] = substr($i, eq + 1)
	}
	if (("p" in kv) && ("msg_per_s" in kv))
		print kv["case"], kv["size"], kv["p"], kv["c"], kv["msg_per_s"]
}' "$tmp/lines" >"$tmp/figs"

# Keep the systems that have at least one of the workloads.
present=()
for s in $systems; do
	for w in $workloads; do
		IFS=/ read -r size p c <<<"$w"
		if awk -v s="$s" -v z="$size" -v p="$p" -v c="$c" \
		    '$1 == s && $2 == z && $3 == p && $4 == c { f = 1 }
		     END { exit !f }' "$tmp/figs"; then
			present+=("$s")
			break
		fi
	done
done
[ ${#present[@]} -gt 0 ] || { echo "plot.sh: no throughput figures in $in" >&2; exit 1; }

# Data: one row per workload, one column per present system; "-" missing.
{
	printf 'workload'
	for s in "${present[@]}"; do printf '\t"%s"' "${label[$s]}"; done
	printf '\n'
	for w in $workloads; do
		IFS=/ read -r size p c <<<"$w"
		case $size in
		64) name="64 B" ;;
		4096) name="4 KiB" ;;
		1048576) name="1 MiB" ;;
		*) name="$size B" ;;
		esac
		printf '"%s %sx%s"' "$name" "$p" "$c"
		for s in "${present[@]}"; do
			v=$(awk -v s="$s" -v z="$size" -v p="$p" -v c="$c" \
			    '$1 == s && $2 == z && $3 == p && $4 == c { v = $5 }
			     END { print (v == "" ? "-" : v) }' "$tmp/figs")
			printf '\t%s' "$v"
		done
		printf '\n'
	done
} >"$tmp/data"

hdr=$(grep -m1 '^# ipcq-bench ' "$in" || :)
date=$(awk '{ print substr($3, 1, 10) }' <<<"$hdr")
rounds=$(grep -o 'rounds=[0-9]*' <<<"$hdr" | cut -d= -f2 || :)
cpus=$(grep -o 'cpus=[0-9]*' <<<"$hdr" | cut -d= -f2 || :)
title="ipcq-bench throughput, msg/s (log scale)"
[ -n "$date" ] && title="$title, $date"
[ -n "$cpus" ] && title="$title, $cpus CPUs"
[ -n "$rounds" ] && [ "$rounds" -gt 1 ] && title="$title, median of $rounds rounds"
ncol=$((${#present[@]} + 1))
# Room above the tallest bar: the next power of ten above 2x it.
ymax=$(awk -F'\t' 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "-" && $i + 0 > m) m = $i + 0 }
	END { e = 1; while (e < 2 * m) e *= 10; print e }' "$tmp/data")

# Colours in bar order: the two ipcq paths stand out, peers are muted.
colours=(
	"#d62728" "#ff9896" "#1f77b4" "#aec7e8" "#2ca02c"
	"#9467bd" "#8c564b" "#e377c2" "#7f7f7f"
)
styles=""
for i in "${!present[@]}"; do
	for j in $(seq 0 8); do
		s=$(echo $systems | cut -d' ' -f$((j + 1)))
		if [ "$s" = "${present[$i]}" ]; then
			styles="$styles set style line $((i + 1)) lc rgb '${colours[$j]}';"
		fi
	done
done

gnuplot <<EOF
set terminal pngcairo size 1200,640 font "DejaVu Sans,11"
set output "$out"
set title "$title"
set datafile separator "\t"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border rgb "#333333"
set boxwidth 0.9
set logscale y 10
set format y "10^{%L}"
set yrange [100:$ymax]
set ylabel "messages per second"
set grid ytics mytics lc rgb "#dddddd"
set key outside right top vertical Left reverse noenhanced
set xtics nomirror noenhanced
$styles
plot for [i=2:$ncol] "$tmp/data" using i:xtic(1) title columnheader(i) ls (i-1)
EOF
echo "plot.sh: wrote $out (${present[*]})"
