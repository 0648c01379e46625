#!/bin/bash
# mitogen-exec against the usual copy-run-delete, same program, same run,
# medians, against a private sshd on 127.0.0.1 (needs root):
#
#   mitogen-exec ssh:H ./prog   vs   scp prog H: && ssh H ./prog && ssh H rm prog
#
#   tests/bench/bench-exec.sh [BUILD_DIR] [RUNS]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
runs=${2:-20}
export MITOGEN_AGENT=${MITOGEN_AGENT:-$build/cmd/mitogen-agent}

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

# The program: a small C tool (or a copy of /bin/true when no compiler).
prog=$BATS_FILE_TMPDIR/prog
if command -v cc >/dev/null; then
	printf '#include <stdio.h>\nint main(void) { puts("ok"); return 0; }\n' >"$prog.c"
	cc -O2 -o "$prog" "$prog.c"
else
	cp /bin/true "$prog"
fi
size=$(stat -c %s "$prog")

median_ms() { # N command...
	local n=$1; shift
	local i t0 t1
	for ((i = 0; i < n; i++)); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000))
	done | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f\n", m/1000}'
}

copy_run_delete() {
	# -O: the legacy scp protocol (the test sshd has no sftp subsystem).
	scp -O -q -F "$MG_SSH_CONFIG" -P "$MG_SSH_PORT" "$prog" 127.0.0.1:prog-bench &&
		ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" 127.0.0.1 ./prog-bench &&
		ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" 127.0.0.1 rm prog-bench
}

echo "== a $size-byte program on one ssh host (median of $runs runs)"
base=$(median_ms "$runs" copy_run_delete)
printf '%-44s %8s ms\n' "scp + ssh ./prog + ssh rm" "$base"
m=$(median_ms "$runs" "$build/cmd/mitogen-exec" "$hop" -- "$prog")
printf '%-44s %8s ms  (%.2fx)\n' "mitogen-exec ssh:127.0.0.1 ./prog" "$m" "$(echo "$m / $base" | bc -l)"
