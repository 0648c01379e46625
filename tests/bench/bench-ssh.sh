#!/bin/bash
# Benchmarks against a private sshd on 127.0.0.1 (needs root and
# openssh-server), same work, same run, medians:
#
#   mitogen-run ssh:H true        vs  ssh H true         vs  Python mitogen
#   mitogen-run ssh:H/sudo true   vs  ssh H sudo -n true vs  Python mitogen
#
# The forms of each group run in turn, 0.3 s apart, RUNS rounds, so that
# the machine's load (it varies by tens of ms here) reaches all alike.
# "ssh, TCP_NODELAY" is ssh given mitogen-connect's socket without its
# quick ACKs (lib/hop/quickack.h): what NODELAY alone gives.
#
#   tests/bench/bench-ssh.sh [BUILD_DIR] [RUNS]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
runs=${2:-30}

# shellcheck source=common.sh
source "$here/common.sh"
bench_build "${1:-build}"
bench_sshd
hop=$(ssh_hop)
ssh=(ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" 127.0.0.1)
fdpass=(ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" -o ProxyUseFdpass=yes
	-o "ProxyCommand=$build/cmd/mitogen-connect 127.0.0.1 $MG_SSH_PORT 0 any" 127.0.0.1)
py=()
if /usr/bin/python3 -c 'import mitogen' 2>/dev/null; then
	py=(/usr/bin/python3 "$here/mitogen_py.py" ssh 127.0.0.1 "$MG_SSH_PORT" "$MG_SSH_CONFIG")
fi

group_row() { # LABEL MS BASE_MS
	printf '%-44s %8s ms  (%.2fx ssh)\n' "$1" "$2" "$(echo "$2 / $3" | bc -l)"
}

one=("ssh 127.0.0.1 true" "${ssh[@]}" true ";;"
	"ssh, TCP_NODELAY (mitogen-connect)" "${fdpass[@]}" true ";;"
	"mitogen-run ssh:127.0.0.1 true" "$run" "$hop" -- true ";;"
	"  the same, tcp_nodelay=no" "$run" "$hop&tcp_nodelay=no" -- true)
((${#py[@]} == 0)) || one+=(";;" "Python mitogen: ssh, call(true)" "${py[@]}")
group "one ssh hop" "${one[@]}"

two=("ssh 127.0.0.1 sudo -n true" "${ssh[@]}" sudo -n true ";;"
	"mitogen-run ssh:127.0.0.1/sudo true" "$run" "$hop/sudo" -- true)
((${#py[@]} == 0)) || two+=(";;" "Python mitogen: ssh + sudo, call(true)" "${py[@]}" sudo)
group "ssh then sudo" "${two[@]}"
