#!/bin/bash
# The floors under a big push, in one run (medians): what ssh itself
# moves, against scp and mitogen-cp, to a tmpfs over the private sshd:
#
#   cat F | ssh h 'cat >/dev/shm/x'      ssh's own transport, written
#   ssh h 'cat >/dev/null' <F            ssh's transport, not written
#   mitogen-run ssh:h -- sh -c 'cat >X'  our stream of a command's stdin
#   scp, mitogen-cp                      the two copies
#
#   tests/bench/bench-cp-floor.sh [BUILD_DIR] [RUNS] [MIB]
#
# BENCH_CP_BASE=OTHER_BUILD_DIR adds that build's mitogen-cp (a before);
# BENCH_CP_PROFILE=DIR runs each once more under perf record -a.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
runs=${2:-5}
mib=${3:-256}
cp=$build/cmd/mitogen-cp
run=$build/cmd/mitogen-run
export MITOGEN_AGENT=${MITOGEN_AGENT:-$build/cmd/mitogen-agent}

src=$(mktemp -d)
dst=$(mktemp -d /dev/shm/bench-cpf.XXXXXX)
bench_cleanup() { rm -rf "$src" "$dst"; }
# shellcheck source=common.sh
source "$here/common.sh"
BENCH_SSHD_CONF="Subsystem sftp internal-sftp" # scp speaks sftp by default
bench_sshd
hop=$(ssh_hop)
ssh=(ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT")
head -c $((mib << 20)) /dev/urandom >"$src/big"

median() { # N command...: median wall time in s, dst emptied before each
	local n=$1 i t0 t1
	shift
	for ((i = 0; i < n; i++)); do
		rm -rf "${dst:?}"/*
		t0=$(date +%s%N)
		"$@" </dev/null >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; kill $$; exit 1; }
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000))
	done | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f\n", m/1000000}'
}
row() { printf '%-44s %8s s  (%.2fx scp)\n' "$1" "$2" "$(echo "$2 / $3" | bc -l)"; }

ssh_cat() { "${ssh[@]}" 127.0.0.1 "cat >$dst/x" <"$src/big"; }
ssh_null() { "${ssh[@]}" 127.0.0.1 'cat >/dev/null' <"$src/big"; }
run_cat() { "$run" -q "$hop" -- sh -c "cat >$dst/x" <"$src/big"; }

echo "== $mib MiB to tmpfs over one ssh hop (median of $runs; load $(cut -d' ' -f1-3 /proc/loadavg))"
base=$(median "$runs" scp -q -F "$MG_SSH_CONFIG" -P "$MG_SSH_PORT" "$src/big" "127.0.0.1:$dst/")
row scp "$base" "$base"
row "ssh h 'cat >/dev/null' <F" "$(median "$runs" ssh_null)" "$base"
row "ssh h 'cat >/dev/shm/x' <F" "$(median "$runs" ssh_cat)" "$base"
row "mitogen-run ssh:h -- sh -c 'cat >x' <F" "$(median "$runs" run_cat)" "$base"
row "mitogen-cp" "$(median "$runs" "$cp" -q "$src/big" "$hop:$dst/")" "$base"
row "mitogen-cp (pull)" "$(median "$runs" "$cp" -q "$hop:$src/big" "$dst/")" "$base"
if [[ -n ${BENCH_CP_BASE:-} ]]; then
	# Another build (before a change), same run.
	bcp=$(cd "$BENCH_CP_BASE" && pwd)/cmd/mitogen-cp
	row "mitogen-cp of $BENCH_CP_BASE" \
		"$(MITOGEN_AGENT=$BENCH_CP_BASE/cmd/mitogen-agent median "$runs" "$bcp" -q "$src/big" "$hop:$dst/")" "$base"
	row "mitogen-cp (pull) of $BENCH_CP_BASE" \
		"$(MITOGEN_AGENT=$BENCH_CP_BASE/cmd/mitogen-agent median "$runs" "$bcp" -q "$hop:$src/big" "$dst/")" "$base"
fi
if [[ -n ${BENCH_CP_PROFILE:-} ]]; then
	# Each once more while perf records the whole machine (run it idle),
	# into BENCH_CP_PROFILE/ROW.data.
	prof() { # NAME command...
		local name=$1 pid
		shift
		rm -rf "${dst:?}"/*
		perf record -q -a -g -o "$BENCH_CP_PROFILE/$name.data" -- sleep 600 &
		pid=$!
		sleep 0.5
		"$@" </dev/null >/dev/null
		kill -INT "$pid"
		wait "$pid" || true
	}
	prof scp scp -q -F "$MG_SSH_CONFIG" -P "$MG_SSH_PORT" "$src/big" "127.0.0.1:$dst/"
	prof ssh-cat ssh_cat
	prof run-cat run_cat
	prof cp "$cp" -q "$src/big" "$hop:$dst/"
	prof cp-pull "$cp" -q "$hop:$src/big" "$dst/"
fi
