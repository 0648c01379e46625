#!/bin/bash
# Ten rsyncs in a row to a private sshd on 127.0.0.1 (needs root,
# openssh-server and rsync), each of a small tree into a fresh directory:
#
#   ten  rsync -e ssh         127.0.0.1:DIR        (ten ssh logins)
#   ten  rsync -e fakessh     127.0.0.1:DIR        (ten chains set up)
#   fakessh run ssh:127.0.0.1 -- ten rsync  .:DIR  (one chain, ten attaches)
#   fakessh run ssh:127.0.0.1 -- true              (its setup alone)
#   ten  rsync                DIR                  (rsync alone: the floor)
#
# The last includes setting its chain up. Median total wall time of RUNS
# runs of each, interleaved (issue 8 asks for fakessh run 5x faster than
# plain ssh); then the ten rsyncs under fakessh run less its setup, beside
# the floor.
#
# The data (source and destinations) go to DATA_DIR, by default the
# script's temporary directory (under TMPDIR); its file system is printed.
# On a busy disk the far rsyncs' renames and the floor itself swing with
# the disk: DATA_DIR=/dev/shm measures the transports rather than it.
#
# As bench-fanout.sh does, the sshd is restarted with "SetEnv SHLVL=1", so
# that bash does not read root's ~/.bashrc for each command it runs for an
# ssh session (here `pyenv init`, ~300 ms, for every rsync of every tool
# alike); KEEP_RC=1 leaves it in.
#
#   tests/bench/bench-fakessh-run.sh [BUILD_DIR] [RUNS] [FILES]
#   env: DATA_DIR=DIR KEEP_RC=
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
runs=${2:-5}
files=${3:-100}
export PATH=$build/cmd:$PATH
export MITOGEN_AGENT=${MITOGEN_AGENT:-$build/cmd/mitogen-agent}

# shellcheck source=common.sh
source "$here/common.sh"
bench_sshd


if [[ -n ${DATA_DIR:-} ]]; then
	work=$(mktemp -d "$DATA_DIR/bench-fakessh-run.XXXXXX")
	bench_cleanup() { rm -rf "$work"; }
else
	work=$BATS_FILE_TMPDIR/work
fi
mkdir -p "$work/src"
for ((i = 0; i < files; i++)); do
	head -c 4096 /dev/urandom >"$work/src/f$i"
done
ssh_e="ssh -F $MG_SSH_CONFIG -p $MG_SSH_PORT"
fake_e="fakessh -F $MG_SSH_CONFIG -p $MG_SSH_PORT"
export work ssh_e fake_e

ten_ssh() {
	for i in 0 1 2 3 4 5 6 7 8 9; do
		rsync -a -e "$ssh_e" "$work/src/" "127.0.0.1:$work/dst$i/" || return 1
	done
}

ten_fakessh() {
	for i in 0 1 2 3 4 5 6 7 8 9; do
		rsync -a -e "$fake_e" "$work/src/" "127.0.0.1:$work/dst$i/" || return 1
	done
}

# What fakessh run costs before any rsync: the chain set up and shut down.
run_setup() {
	mkdir -p "$work/dst0" "$work/dst9"
	cp -a "$work/src/." "$work/dst0/"
	cp -a "$work/src/." "$work/dst9/"
	fakessh run "$(ssh_hop)" -- true
}

# The floor: rsync's own cost, with no transport at all.
ten_local() {
	for i in 0 1 2 3 4 5 6 7 8 9; do
		rsync -a "$work/src/" "$work/dst$i/" || return 1
	done
}

ten_run() {
	fakessh run "$(ssh_hop)" -- sh -c '
		for i in 0 1 2 3 4 5 6 7 8 9; do
			rsync -a "$work/src/" ".:$work/dst$i/" || exit 1
		done'
}

# ms of one call of $1, the destination directories fresh; checked.
time_ms() {
	local t0 t1 i
	rm -rf "$work"/dst*
	t0=$(date +%s%N)
	"$1" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; skip "$1 failed"; }
	t1=$(date +%s%N)
	for i in 0 9; do
		diff -r "$work/src" "$work/dst$i" >/dev/null || skip "$1: dst$i differs"
	done
	echo $(((t1 - t0) / 1000000))
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

declare -A all
for ((r = 0; r < runs; r++)); do
	for f in ten_ssh ten_fakessh ten_run run_setup ten_local; do
		all[$f]+="$(time_ms $f) "
	done
done
echo "== ten rsyncs of $files files (4 KiB each) to 127.0.0.1, median of $runs runs" \
	"(login shell rc files $([[ -n ${KEEP_RC:-} ]] && echo read || echo skipped))"
echo "   data in $work ($(stat -f -c %T "$work")), load $(cut -d' ' -f1-3 /proc/loadavg)"
base=$(tr ' ' '\n' <<<"${all[ten_ssh]}" | grep . | median)
declare -A med
for f in ten_ssh ten_fakessh ten_run run_setup ten_local; do
	m=$(tr ' ' '\n' <<<"${all[$f]}" | grep . | median)
	med[$f]=$m
	case $f in
	ten_ssh) label="rsync -e ssh, ten times" ;;
	ten_fakessh) label="rsync -e fakessh, ten times" ;;
	ten_run) label="fakessh run ssh:H -- ten rsync .:" ;;
	run_setup) label="(of which) fakessh run ssh:H -- true" ;;
	ten_local) label="(floor) ten local rsyncs, no transport" ;;
	esac
	printf '%-40s %7s ms  (ssh is %.1fx this)\n' "$label" "$m" "$(echo "$base / $m" | bc -l)"
done
# Under fakessh run, the rsyncs alone (its setup taken off) against ten
# rsync -e ssh, and what each costs over a local rsync.
alone=$(echo "${med[ten_run]} - ${med[run_setup]}" | bc -l)
printf '%-40s %7.0f ms  (ssh is %.1fx this; %.1f ms a rsync over the floor)\n' \
	"fakessh run's ten rsyncs, setup taken off" "$alone" "$(echo "$base / $alone" | bc -l)" \
	"$(echo "($alone - ${med[ten_local]}) / 10" | bc -l)"
