#!/bin/bash
# A cold command over a WAN link (the relay in ../shared/bench: every byte
# held RTT/2 each way, each direction capped), against plain ssh to the
# same alias in the same run, medians:
#
#   mitogen-run ssh:wan1 true        vs  ssh wan1 true
#   the same with the exec-only agent (MITOGEN_AGENT_LEAF=, as before the
#   leaf agent: docs/PROTOCOL.md 2.3.4)
#   the same with the whole agent (MITOGEN_AGENT_LITE=, as before the
#   exec-only agent: docs/PROTOCOL.md 2.3.2)
#   mitogen-run ssh:wan1/sudo true   vs  ssh wan1 sudo -n true
#   the same with two agents (MITOGEN_AGENT_LITE=: sudo no longer runs
#   in the ssh command, docs/PROTOCOL.md 2.3.3)
#
# and the agents' sizes, packed (what crosses the link) and plain. The
# forms of each group run in turn, 0.3 s apart, RUNS rounds, medians: the
# relay is a Python process whose latency drifts by tens of ms from one
# minute to the next, so forms timed in blocks one after the other were
# compared across that drift (the same build measured 0.99x and 1.08x in
# two runs a minute apart).
#   tests/bench/bench-wan.sh [BUILD_DIR] [RUNS] [RTT_MS] [MBIT]
# Needs root, openssh-server and python3; the relay is at
# $MG_WAN_RELAY (default /work/shared/bench/wan-relay.py, else
# ../shared/bench/wan-relay.py beside the source tree).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
runs=${2:-10}
rtt=${3:-50}
mbit=${4:-20}

# shellcheck source=common.sh
source "$here/common.sh"
bench_build "${1:-build}"
bench_sshd
wan_config "$rtt" "$mbit"
cfg=$wan_cfg
hop="ssh:wan1?ssh_args=$(mg_pct "-F $cfg")"

group_row() { rtt_row "$1" "$2" "$3" "$rtt"; } # LABEL MS BASE_MS

echo "== WAN relay: ${rtt} ms round trip, ${mbit} Mbit/s"
agent_sizes
group "one ssh hop" \
	"ssh wan1 true" ssh -F "$cfg" wan1 true ";;" \
	"mitogen-run ssh:wan1 true" "$run" "$hop" -- true ";;" \
	"  the same, exec-only agent" env MITOGEN_AGENT_LEAF= "$run" "$hop" -- true ";;" \
	"  the same, whole agent" env MITOGEN_AGENT_LITE= "$run" "$hop" -- true
group "ssh then sudo" \
	"ssh wan1 sudo -n true" ssh -F "$cfg" wan1 sudo -n true ";;" \
	"mitogen-run ssh:wan1/sudo true" "$run" "$hop/sudo" -- true ";;" \
	"  the same, exec-only agent" env MITOGEN_AGENT_LEAF= "$run" "$hop/sudo" -- true ";;" \
	"  the same, two agents" env MITOGEN_AGENT_LITE= "$run" "$hop/sudo" -- true
