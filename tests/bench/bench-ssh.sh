#!/bin/bash
# Benchmarks against a private sshd on 127.0.0.1 (needs root and
# openssh-server), same work, same run, medians:
#
#   mitogen-run ssh:H true        vs  ssh H true         vs  Python mitogen
#   mitogen-run ssh:H/sudo true   vs  ssh H sudo -n true vs  Python mitogen
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

row() { # LABEL MS BASE_MS
	printf '%-44s %8s ms  (%.2fx ssh)\n' "$1" "$2" "$(echo "$2 / $3" | bc -l)"
}

echo "== one ssh hop (median of $runs runs)"
base=$(median_ms "$runs" "${ssh[@]}" true)
row "ssh 127.0.0.1 true" "$base" "$base"
row "mitogen-run ssh:127.0.0.1 true" "$(median_ms "$runs" "$run" "$hop" -- true)" "$base"
row "  the same, tcp_nodelay=no" "$(median_ms "$runs" "$run" "$hop&tcp_nodelay=no" -- true)" "$base"
if /usr/bin/python3 -c 'import mitogen' 2>/dev/null; then
	row "Python mitogen: ssh, call(true)" \
		"$(median_ms "$runs" /usr/bin/python3 "$here/mitogen_py.py" ssh 127.0.0.1 "$MG_SSH_PORT" "$MG_SSH_CONFIG")" "$base"
fi

echo "== ssh then sudo (median of $runs runs)"
base=$(median_ms "$runs" "${ssh[@]}" sudo -n true)
row "ssh 127.0.0.1 sudo -n true" "$base" "$base"
row "mitogen-run ssh:127.0.0.1/sudo true" "$(median_ms "$runs" "$run" "$hop/sudo" -- true)" "$base"
if /usr/bin/python3 -c 'import mitogen' 2>/dev/null; then
	row "Python mitogen: ssh + sudo, call(true)" \
		"$(median_ms "$runs" /usr/bin/python3 "$here/mitogen_py.py" ssh 127.0.0.1 "$MG_SSH_PORT" "$MG_SSH_CONFIG" sudo)" "$base"
fi
