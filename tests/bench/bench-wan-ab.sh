#!/bin/bash
# The cold sudo run over the WAN relay, its forms interleaved: each round
# runs, 0.3 s apart,
#
#   ssh wan1 sudo -n true
#   mitogen-run ssh:wan1/sudo true, two agents (MITOGEN_AGENT_LITE=: the
#                                   form before docs/PROTOCOL.md 2.3.3)
#   mitogen-run ssh:wan1/sudo true, sudo in the ssh command
#
# so that a drift in the machine's load reaches all three alike, which
# bench-wan.sh's runs one row after the other cannot promise; medians and
# the difference in round trips.
#   tests/bench/bench-wan-ab.sh [BUILD_DIR] [ROUNDS] [RTT_MS] [MBIT]
# Needs what bench-wan.sh needs (root, openssh-server, python3, the relay).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
rounds=${2:-30}
rtt=${3:-10}
mbit=${4:-100}

# shellcheck source=common.sh
source "$here/common.sh"
bench_build "${1:-build}"
bench_sshd
wan_config "$rtt" "$mbit"
cfg=$wan_cfg
hop="ssh:wan1?ssh_args=$(mg_pct "-F $cfg")/sudo"

ssh_us=() two_us=() fused_us=()
for ((i = 0; i < rounds; i++)); do
	ssh_us+=("$(once_us ssh -F "$cfg" wan1 sudo -n true)")
	two_us+=("$(once_us env MITOGEN_AGENT_LITE= "$run" "$hop" -- true)")
	fused_us+=("$(once_us "$run" "$hop" -- true)")
done

base=$(median_us "${ssh_us[@]}")
row() { rtt_row "$1" "$2" "$base" "$rtt"; }
echo "== WAN relay: ${rtt} ms round trip, ${mbit} Mbit/s, $rounds interleaved rounds, load $(cut -d' ' -f1 /proc/loadavg)"
row "ssh wan1 sudo -n true" "$base"
row "mitogen-run ssh:wan1/sudo true, two agents" "$(median_us "${two_us[@]}")"
row "mitogen-run ssh:wan1/sudo true" "$(median_us "${fused_us[@]}")"
