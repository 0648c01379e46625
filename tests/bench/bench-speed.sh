#!/bin/bash
# Every row of issue 11's table in one run, each against its peer in the
# same run (the scripts below interleave or alternate the forms), then a
# summary of those rows:
#
#   agent sizes        each agent packed (what a first hop gets on the wire)
#                      and plain
#   login, loopback    bench-ssh.sh: mitogen-run ssh:H true against ssh H true
#                      (and ssh then sudo)
#   WAN, relay         bench-wan.sh at 50 ms / 20 Mbit/s, 100 ms / 1 Gbit/s,
#                      10 ms / 100 Mbit/s: the ProxyCommand relay of
#                      ../shared/bench, where ssh's own TCP never crosses the
#                      delay (mitogen-run keeps a user's ProxyCommand)
#   WAN, kernel TCP    bench-wan-tun.sh at the same three links: the
#                      clients in a network namespace, TCP across a delayed
#                      TUN link, as on a real network (needs /dev/net/tun)
#   stream             bench-stream.sh: GIB GiB through local/local -- cat
#                      against a plain cat pipe
#   fan-out            bench-fanout.sh at 50 and 100 targets, true and
#                      uname -a, against pdsh, clush and parallel-ssh, with
#                      the CPU per target
#
#   tests/bench/bench-speed.sh [BUILD_DIR] [RUNS]      RUNS default 10
#   env: LINKS ("50:20 100:1000 10:100", RTT_MS:MBIT), GIB (4),
#        FANOUT_RUNS (RUNS; each fan-out run is 5-15 s a tool here),
#        SKIP (words of: login relay tun stream fanout), FAR_CPUS (passed
#        on to bench-fanout.sh: the far ends on those CPUs, as on a fleet)
#
# Needs what each script needs: root, openssh-server, python3, pdsh,
# clustershell and pssh; run it on an idle machine. The whole output goes
# to stdout, the summary last; about 40 minutes at RUNS=10 on 2 CPUs.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
runs=${2:-10}
links=${LINKS:-50:20 100:1000 10:100}
gib=${GIB:-4}
fanout_runs=${FANOUT_RUNS:-$runs}
skip=" ${SKIP:-} "

# shellcheck source=common.sh
source "$here/common.sh"
bench_build "${1:-build}"
out=$BATS_FILE_TMPDIR
trap 'rm -rf "$out"' EXIT

wanted() { [[ $skip != *" $1 "* ]]; }

# section NAME SCRIPT ARGS...: run one script, its output shown and kept.
section() {
	local name=$1 script=$2 rc=0
	shift 2
	echo
	echo "######## $name: $script $*"
	bash "$here/$script" "$@" 2>&1 | tee "$out/$name"
	rc=${PIPESTATUS[0]}
	[[ $rc -eq 0 ]] || echo "bench-speed: $script $* failed ($rc)" | tee -a "$out/failed"
}

{
	echo "== bench-speed: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "   $("$run" --version 2>&1 | head -1); $(ssh -V 2>&1)"
	echo "== agents, bytes (packed: what a first hop gets on the wire)"
	agent_sizes
} | tee "$out/sizes"

if wanted login; then
	section login bench-ssh.sh "$build" "$runs"
fi
for l in $links; do
	rtt=${l%%:*} mbit=${l#*:}
	if wanted relay; then
		section "relay-$l" bench-wan.sh "$build" "$runs" "$rtt" "$mbit"
	fi
	if wanted tun; then
		section "tun-$l" bench-wan-tun.sh "$build" "$runs" "$rtt" "$mbit"
	fi
done
if wanted stream; then
	section stream bench-stream.sh "$build" "$gib" "$runs"
fi
if wanted fanout; then
	NS="50 100" BASTION_N=0 section fanout bench-fanout.sh "$build" "$fanout_runs"
fi

# The summary: the rows the issue names, as each script printed them.
echo
echo "######## summary (medians of $runs runs; fan-out: $fanout_runs)"
cat "$out/sizes"
show() { # NAME TITLE REGEX
	local rows=()
	[[ -f $out/$1 ]] || return 0
	echo "== $2"
	mapfile -t rows < <(grep -E "$3" "$out/$1")
	((${#rows[@]} > 0)) || rows=("(no such row: see above)")
	printf '   %s\n' "${rows[@]}"
}
show login "login, loopback" '^(ssh 127|mitogen-run ssh:127)'
for l in $links; do
	show "relay-$l" "WAN relay (ProxyCommand), ${l%%:*} ms, ${l#*:} Mbit/s" '^(ssh wan1|mitogen-run ssh:wan1)'
	show "tun-$l" "WAN, kernel TCP, ${l%%:*} ms, ${l#*:} Mbit/s" '^(ssh wan1|ssh, TCP_NODELAY|mitogen-run ssh:wan1)'
done
show stream "stream, $gib GiB" '^(plain cat pipe|mitogen-run local/local -- cat|mitogen-run --relay-stdio local/local -- cat)'
show fanout "fan-out, -f 64" '^(tool|mitogen-run|pdsh|clush|parallel-ssh)'
if [[ -f $out/failed ]]; then
	cat "$out/failed"
	exit 1
fi
