#!/bin/bash
# Benchmarks for local hops, against the plain shell doing the same work.
#
#   tests/bench/bench-local.sh [BUILD_DIR] [GIB]
#
# 1. start-up: `mitogen-run local -- true` (and 2, 3, 5 hops) vs `sh -c true`,
#    median of many runs (hyperfine when installed, else a loop of date +%s%N).
# 2. streaming: GIB GiB (default 4) of zeros through `local/local -- cat`
#    vs a plain `cat` pipe, with throughput and the peak RSS (VmHWM) of the
#    master and of every agent, sampled while the stream runs.
set -eu

build=${1:-build}
gib=${2:-4}
run=$build/cmd/mitogen-run
export MITOGEN_AGENT=${MITOGEN_AGENT:-$build/cmd/mitogen-agent}
[[ -x $run ]] || { echo "bench: $run not built" >&2; exit 1; }

median_ms() { # N command...: median wall time in ms over N runs
	local n=$1; shift
	local i t0 t1
	for ((i = 0; i < n; i++)); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000))
	done | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f\n", m/1000}'
}

echo "== start-up (median of 200 runs, ms)"
base=$(median_ms 200 sh -c true)
printf '%-40s %8s ms\n' "sh -c true" "$base"
prev_n=0
prev_m=0
for hops in local local/local local/local/local local/local/local/local/local; do
	n=$(($(tr -cd / <<<"$hops" | wc -c) + 1))
	m=$(median_ms 200 "$run" "$hops" -- true)
	printf '%-48s %8s ms  (%.1fx sh)' "mitogen-run $hops -- true" "$m" "$(echo "$m / $base" | bc -l)"
	if ((prev_n > 0)); then
		printf '  +%.2f ms per extra hop' "$(echo "($m - $prev_m) / ($n - $prev_n)" | bc -l)"
	fi
	echo
	prev_n=$n
	prev_m=$m
done

if /usr/bin/python3 -c 'import mitogen' 2>/dev/null; then
	here=$(dirname "$0")
	for hops in "local" "local local"; do
		m=$(median_ms 20 /usr/bin/python3 "$here/mitogen_py.py" $hops)
		printf '%-48s %8s ms\n' "Python mitogen: $hops, call(true)" "$m"
	done
else
	echo "(python3-mitogen not installed: no Python mitogen figures)"
fi

# Every process below PID (agents start their own sessions, so walk ppids).
descendants() {
	local p kids
	kids=$(pgrep -P "$1" 2>/dev/null || true)
	for p in $kids; do
		echo "$p"
		descendants "$p"
	done
}

# Peak RSS of the master and every agent while a stream runs.
sample_rss() { # PID_OF_MASTER OUTFILE
	local master=$1 out=$2 max_m=0 max_a=0 p v
	while kill -0 "$master" 2>/dev/null; do
		v=$(awk '/VmHWM/ {print $2}' /proc/"$master"/status 2>/dev/null || echo 0)
		((v > max_m)) && max_m=$v
		for p in $(descendants "$master"); do
			[[ $(cat /proc/"$p"/comm 2>/dev/null) == mitogen:* ]] || continue
			v=$(awk '/VmHWM/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0)
			((v > max_a)) && max_a=$v
		done
		sleep 0.2
	done
	echo "$max_m $max_a" >"$out"
}

echo
echo "== streaming ${gib} GiB of zeros"
export TMPDIR=$(mktemp -d)
trap 'rm -rf "$TMPDIR"' EXIT
bytes=$((gib * 1024 * 1024 * 1024))
t0=$(date +%s%N)
head -c "$bytes" /dev/zero | cat | wc -c >/dev/null
t1=$(date +%s%N)
plain=$(((t1 - t0) / 1000000))
t0=$(date +%s%N)
{ head -c "$bytes" /dev/zero | "$run" local/local -- cat | wc -c >"$TMPDIR/count"; } &
sleep 0.3
master=$(pgrep -n -f "^$run local/local -- cat" || true)
[[ -n $master ]] && sample_rss "$master" "$TMPDIR/rss"
wait
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
got=$(cat "$TMPDIR/count")
[[ $got == "$bytes" ]] || echo "bench: byte count mismatch: $got != $bytes" >&2
read -r rss_m rss_a <"$TMPDIR/rss" 2>/dev/null || { rss_m=?; rss_a=?; }
printf '%-40s %8d ms  %7.2f GiB/s\n' "plain cat pipe" "$plain" "$(echo "$gib * 1000 / $plain" | bc -l)"
printf '%-40s %8d ms  %7.2f GiB/s  (%.2fx the plain pipe)\n' "mitogen-run local/local -- cat" "$ms" \
	"$(echo "$gib * 1000 / $ms" | bc -l)" "$(echo "$ms / $plain" | bc -l)"
echo "peak RSS: master ${rss_m} KiB, largest agent ${rss_a} KiB"
