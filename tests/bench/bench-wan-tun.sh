#!/bin/bash
# A cold command across a WAN link made of the kernel's own TCP: the
# clients run in a network namespace of this script's, joined to the
# sshd's by tun-link.py (packets held RTT/2 each way, capped at MBIT).
# The forms of each group run in turn, 0.3 s apart, RUNS rounds, medians:
#
#   ssh wan1 true, ssh on mitogen-connect's socket (TCP_NODELAY, no quick
#   ACKs), mitogen-run ssh:wan1 true, the same with the exec-only agent
#   (MITOGEN_AGENT_LEAF=), and with tcp_nodelay=no
#   ssh wan1 sudo -n true, mitogen-run ssh:wan1/sudo true, the same with
#   the exec-only agent
#
# ../shared/bench/wan-relay.py is an ssh ProxyCommand: ssh talks to it on
# pipes and it to sshd on loopback, so Nagle's algorithm and delayed ACKs
# never cross its link, and mitogen-run cannot use its own connection
# there (lib/hop/connect/ssh.c keeps a user's ProxyCommand). Here they
# cross it as on a real link. Every command is started by nsenter, the
# same cost for every form.
#
#   tests/bench/bench-wan-tun.sh [BUILD_DIR] [RUNS] [RTT_MS] [MBIT]
# INITCWND=N: the clients' route to the sshd starts TCP's congestion
# window at N segments instead of the kernel's 10 (ip-route(8) initcwnd).
# Needs root, openssh-server, python3, iproute2 and /dev/net/tun.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
runs=${2:-15}
rtt=${3:-50}
mbit=${4:-20}

# shellcheck source=common.sh
source "$here/common.sh"
bench_build "${1:-build}"
is_root || skip "needs root (network namespaces)"
[[ -c /dev/net/tun ]] || skip "no /dev/net/tun"

ns=mgwan$$
if_here=mgwa$$
if_there=mgwb$$
addr_sshd=10.77.0.1
addr_client=10.77.0.2
link_pid=

bench_cleanup() {
	[[ -z $link_pid ]] || kill "$link_pid" 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
}
trap bench_cleanup EXIT

ip netns add "$ns"
python3 "$here/tun-link.py" "$ns" "$if_here" "$if_there" "$rtt" "$mbit" \
	>"$BATS_FILE_TMPDIR/link.out" 2>&1 &
link_pid=$!
for ((i = 0; i < 100; i++)); do
	grep -q ready "$BATS_FILE_TMPDIR/link.out" 2>/dev/null && break
	kill -0 "$link_pid" 2>/dev/null || skip "tun-link.py: $(cat "$BATS_FILE_TMPDIR/link.out")"
	sleep 0.05
done
ip addr add "$addr_sshd/30" dev "$if_here"
ip link set "$if_here" up
ip -n "$ns" link set lo up
ip -n "$ns" addr add "$addr_client/30" dev "$if_there"
ip -n "$ns" link set "$if_there" up
if [[ -n ${INITCWND:-} ]]; then
	ip -n "$ns" route change 10.77.0.0/30 dev "$if_there" initcwnd "$INITCWND"
fi

# The harness's sshd, also listening on this side of the link.
BENCH_SSHD_CONF="ListenAddress $addr_sshd" bench_sshd
cfg=$BATS_FILE_TMPDIR/tun_config
{
	printf 'Host wan1\n  HostName %s\n  Port %s\n' "$addr_sshd" "$MG_SSH_PORT"
	printf '  HostKeyAlias [127.0.0.1]:%s\n' "$MG_SSH_PORT"
	cat "$MG_SSH_CONFIG"
} >"$cfg"
in_ns=(nsenter "--net=/run/netns/$ns")
"${in_ns[@]}" ssh -F "$cfg" wan1 true || skip "ssh across the link failed"
hop="ssh:wan1?ssh_args=$(mg_pct "-F $cfg")"
fdpass=(ssh -F "$cfg" -o ProxyUseFdpass=yes
	-o "ProxyCommand=$build/cmd/mitogen-connect $addr_sshd $MG_SSH_PORT 0 any" wan1)

group_row() { rtt_row "$1" "$2" "$3" "$rtt"; }

echo "== kernel TCP across tun-link.py: ${rtt} ms round trip, ${mbit} Mbit/s"
group "one ssh hop" \
	"ssh wan1 true" "${in_ns[@]}" ssh -F "$cfg" wan1 true ";;" \
	"ssh, TCP_NODELAY (mitogen-connect)" "${in_ns[@]}" "${fdpass[@]}" true ";;" \
	"mitogen-run ssh:wan1 true" "${in_ns[@]}" "$run" "$hop" -- true ";;" \
	"  the same, exec-only agent" "${in_ns[@]}" env MITOGEN_AGENT_LEAF= "$run" "$hop" -- true ";;" \
	"  the same, tcp_nodelay=no" "${in_ns[@]}" "$run" "$hop&tcp_nodelay=no" -- true
group "ssh then sudo" \
	"ssh wan1 sudo -n true" "${in_ns[@]}" ssh -F "$cfg" wan1 sudo -n true ";;" \
	"mitogen-run ssh:wan1/sudo true" "${in_ns[@]}" "$run" "$hop/sudo" -- true ";;" \
	"  the same, exec-only agent" "${in_ns[@]}" env MITOGEN_AGENT_LEAF= "$run" "$hop/sudo" -- true
