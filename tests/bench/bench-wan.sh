#!/bin/bash
# A cold command over a WAN link (the relay in ../shared/bench: every byte
# held RTT/2 each way, each direction capped), against plain ssh to the
# same alias in the same run, medians:
#
#   mitogen-run ssh:wan1 true        vs  ssh wan1 true
#   the same with the whole agent (MITOGEN_AGENT_LITE=, as before the
#   exec-only agent: docs/PROTOCOL.md 2.3.2)
#   mitogen-run ssh:wan1/sudo true   vs  ssh wan1 sudo -n true
#   the same with two agents (MITOGEN_AGENT_LITE=: sudo no longer runs
#   in the ssh command, docs/PROTOCOL.md 2.3.3)
#
# and the agents' sizes, packed (what crosses the link) and plain.
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

row() { rtt_row "$1" "$2" "$3" "$rtt"; } # LABEL MS BASE_MS

size() { # FILE: its bytes, or -
	stat -L -c %s "$1" 2>/dev/null || echo -
}

echo "== WAN relay: ${rtt} ms round trip, ${mbit} Mbit/s (median of $runs runs)"
echo "   agent: $(size "$MITOGEN_AGENT") bytes packed, $(size "$MITOGEN_AGENT.raw") plain;" \
	"exec-only: $(size "$MITOGEN_AGENT-lite") packed, $(size "$MITOGEN_AGENT-lite.raw") plain"
base=$(median_ms "$runs" ssh -F "$cfg" wan1 true)
row "ssh wan1 true" "$base" "$base"
row "mitogen-run ssh:wan1 true" "$(median_ms "$runs" "$run" "$hop" -- true)" "$base"
row "  the same, whole agent" "$(median_ms "$runs" env MITOGEN_AGENT_LITE= "$run" "$hop" -- true)" "$base"
base=$(median_ms "$runs" ssh -F "$cfg" wan1 sudo -n true)
row "ssh wan1 sudo -n true" "$base" "$base"
row "mitogen-run ssh:wan1/sudo true" "$(median_ms "$runs" "$run" "$hop/sudo" -- true)" "$base"
row "  the same, two agents" "$(median_ms "$runs" env MITOGEN_AGENT_LITE= "$run" "$hop/sudo" -- true)" "$base"
