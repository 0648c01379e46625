#!/bin/bash
# Byte streams at pipe speed (issue 11, item 3): GIB GiB of zeros through
#
#   head -c N /dev/zero | cat | wc -c                               (plain pipe)
#   head -c N /dev/zero | mitogen-run local/local -- cat | wc -c
#   head -c N /dev/zero | mitogen-run local/local/local -- cat | wc -c
#
# and, where the build has --relay-stdio, the same two chains with it: a
# chain on this host hands cat the pipeline's own stdin and stdout
# (docs/PROTOCOL.md 3.1), so the first rows measure what passing them
# gives and the --relay-stdio rows what relaying still costs (any chain
# with an ssh or container hop relays);
#
# run RUNS times each, interleaved so that load changes hit every variant
# alike, with the median wall time, the ratio to the plain pipe (its speed
# divided by the pipe's: 1.00x is pipe speed) and the peak RSS (VmHWM) of
# the master (/usr/bin/time %M) and of the largest agent (sampled from
# /proc in one more run of each, not timed: the sampler's pgrep and awk
# every 0.1 s took CPU from the mitogen rows alone).
#
#   tests/bench/bench-stream.sh [BUILD_DIR] [GIB] [RUNS]
set -eu

build=${1:-build}
gib=${2:-4}
runs=${3:-5}
run=$build/cmd/mitogen-run
export MITOGEN_AGENT=${MITOGEN_AGENT:-$build/cmd/mitogen-agent}
[[ -x $run ]] || { echo "bench: $run not built" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "bench: needs /usr/bin/time (Debian: time)" >&2; exit 1; }

bytes=$((gib * 1024 * 1024 * 1024))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

descendants() { # PID: every process below it
	local p
	for p in $(pgrep -P "$1" 2>/dev/null || true); do
		echo "$p"
		descendants "$p"
	done
}

# Largest VmHWM (KiB) of the agents below PID, until PID exits.
sample_agents() { # PID OUTFILE
	local max=0 p v
	while kill -0 "$1" 2>/dev/null; do
		for p in $(descendants "$1"); do
			[[ $(cat /proc/"$p"/comm 2>/dev/null) == mitogen:* ]] || continue
			v=$(awk '/VmHWM/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0)
			((${v:-0} > max)) && max=$v
		done
		sleep 0.1
	done
	echo "$max" >"$2"
}

# One run of variant V: "wall_ms master_kib agent_kib" on stdout; the
# agents' RSS only with "sample" (the sampler takes CPU: such a run's
# time is not counted).
one() { # V [sample]
	local t0 t1 got pid
	t0=$(date +%s%N)
	if [[ $1 != cat && ${2:-} != sample ]]; then
		local chain=${1#relay:} opt=()
		[[ $1 == relay:* ]] && opt=(--relay-stdio)
		head -c "$bytes" /dev/zero |
			/usr/bin/time -o "$tmp/time" -f %M "$run" "${opt[@]}" "$chain" -- cat |
			wc -c >"$tmp/count"
		echo 0 >"$tmp/agents"
	elif [[ $1 == cat ]]; then
		head -c "$bytes" /dev/zero | /usr/bin/time -o "$tmp/time" -f %M cat |
			wc -c >"$tmp/count"
		echo 0 >"$tmp/agents"
	else
		local chain=${1#relay:} opt=()
		[[ $1 == relay:* ]] && opt=(--relay-stdio)
		head -c "$bytes" /dev/zero |
			/usr/bin/time -o "$tmp/time" -f %M "$run" "${opt[@]}" "$chain" -- cat |
			wc -c >"$tmp/count" &
		pid=$!
		sleep 0.2
		# The master is the child of /usr/bin/time.
		sample_agents "$(pgrep -n -f "^$run .*$chain -- cat" || echo $pid)" "$tmp/agents"
		wait "$pid"
	fi
	t1=$(date +%s%N)
	got=$(cat "$tmp/count")
	[[ $got == "$bytes" ]] || echo "bench: $1: byte count $got, not $bytes" >&2
	echo "$(((t1 - t0) / 1000000)) $(tail -n1 "$tmp/time") $(cat "$tmp/agents")"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:int((a[NR/2]+a[NR/2+1])/2)}'; }
maxof() { sort -n | tail -n1; }

variants=(cat local/local local/local/local)
if "$run" --help 2>/dev/null | grep -q -- --relay-stdio; then
	variants+=(relay:local/local relay:local/local/local)
fi
echo "== ${gib} GiB of zeros, ${runs} runs each, interleaved; $(nproc) CPUs;" \
	"load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 0; i < runs; i++)); do
	for v in "${variants[@]}"; do
		one "$v" >>"$tmp/res.${v//\//_}"
	done
done
# The agents' peak RSS, from one more run each, sampled.
for v in "${variants[@]}"; do
	[[ $v == cat ]] || one "$v" sample | cut -d' ' -f3 >"$tmp/rss.${v//\//_}"
done
plain=$(cut -d' ' -f1 "$tmp/res.cat" | median)
printf '%-50s %9s %9s %8s %12s %12s\n' variant "median ms" "GiB/s" ratio "master KiB" "agent KiB"
for v in "${variants[@]}"; do
	f=$tmp/res.${v//\//_}
	ms=$(cut -d' ' -f1 "$f" | median)
	name=$([[ $v == cat ]] && echo "plain cat pipe" || echo "mitogen-run $v -- cat")
	name=${name/relay:/--relay-stdio }
	printf '%-50s %9d %9.2f %7.2fx %12s %12s\n' "$name" "$ms" \
		"$(echo "$gib * 1000 / $ms" | bc -l)" "$(echo "$plain / $ms" | bc -l)" \
		"$(cut -d' ' -f2 "$f" | maxof)" "$(cat "$tmp/rss.${v//\//_}" 2>/dev/null || echo 0)"
	echo "    runs (ms): $(cut -d' ' -f1 "$f" | tr '\n' ' ')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
