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
build=$(cd "${1:-build}" && pwd)
runs=${2:-30}
run=$build/cmd/mitogen-run
export MITOGEN_AGENT=${MITOGEN_AGENT:-$build/cmd/mitogen-agent}
export MITOGEN_CONNECT=${MITOGEN_CONNECT-$build/cmd/mitogen-connect}

# sshd.bash is written for bats; give it what it expects.
BATS_FILE_TMPDIR=$(mktemp -d)
export BATS_FILE_TMPDIR
skip() { echo "bench: $*" >&2; exit 1; }
is_root() { [[ $(id -u) -eq 0 ]]; }
# shellcheck source=../cli/sshd.bash
source "$here/../cli/sshd.bash"
trap 'stop_sshd; rm -rf "$BATS_FILE_TMPDIR"' EXIT
start_sshd
[[ -z ${MG_SSHD_SKIP:-} ]] || skip "$MG_SSHD_SKIP"
hop=$(ssh_hop)
ssh=(ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" 127.0.0.1)

median_ms() { # N command...: median wall time in ms over N runs
	local n=$1; shift
	local i t0 t1
	for ((i = 0; i < n; i++)); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000))
	done | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f\n", m/1000}'
}

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
