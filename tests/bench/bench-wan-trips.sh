#!/bin/bash
# Where a cold command's time goes over a WAN link: the one-way trips
# (flights) each tool's session needs, from a relay that logs every chunk
# it carries (wan-trace.py) with a long delay, so that each flight after
# the first stands apart from the machine's own latencies and counts
# whatever the load:
#
#   ssh wan1 true              vs  mitogen-run ssh:wan1 true
#   ssh wan1 sudo -n true      vs  mitogen-run ssh:wan1/sudo true
#
#   tests/bench/bench-wan-trips.sh [BUILD_DIR] [RTT_MS] [MBIT]
# Prints each timeline (wan-timeline.py) and the trips before each client
# ended; MBIT 0 (the default) is an uncapped link. Needs root,
# openssh-server and python3.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
rtt=${2:-200}
mbit=${3:-0}

# shellcheck source=common.sh
source "$here/common.sh"
bench_build "${1:-build}"
bench_sshd

log=$BATS_FILE_TMPDIR/trace.log
cfg=$BATS_FILE_TMPDIR/wan_config
{
	printf 'Host wan1\n  HostName 127.0.0.1\n  Port %s\n' "$MG_SSH_PORT"
	printf '  HostKeyAlias [127.0.0.1]:%s\n' "$MG_SSH_PORT"
	printf '  ProxyCommand /usr/bin/python3 %s %s 127.0.0.1 %s %s %s\n' \
		"$here/wan-trace.py" "$log" "$MG_SSH_PORT" "$rtt" "$mbit"
	cat "$MG_SSH_CONFIG"
} >"$cfg"
hop="ssh:wan1?ssh_args=$(mg_pct "-F $cfg")"

trace() { # LABEL CMD...
	local end
	rm -f "$log"
	"${@:2}" >/dev/null 2>&1 || { echo "bench: failed: ${*:2}" >&2; exit 1; }
	end=$(date +%s.%N)
	echo "== $1"
	python3 "$here/wan-timeline.py" "$rtt" "$log" "$end"
}

echo "== relay: ${rtt} ms round trip, ${mbit:-no} Mbit/s cap"
trace "ssh wan1 true" ssh -F "$cfg" wan1 true
trace "mitogen-run ssh:wan1 true" "$run" "$hop" -- true
trace "ssh wan1 sudo -n true" ssh -F "$cfg" wan1 sudo -n true
trace "mitogen-run ssh:wan1/sudo true" "$run" "$hop/sudo" -- true
