#!/bin/bash
# fakessh against plain ssh as the transport of the real clients, to the
# same end (a private sshd on 127.0.0.1; needs root and openssh-server),
# cold (a fresh destination every run), runs interleaved, medians:
#
#   rsync -a of a FILES-file tree, rsync of an MIB MiB file:
#     -e ssh  vs  -e fakessh                       (one ssh hop)
#     -e ssh --rsync-path='sudo -n rsync'  vs  fakessh ssh=H+sudo=root
#   scp of the MIB MiB file: scp -O  vs  scp -O -S fakessh, and in scp's
#     default SFTP mode, scp  vs  scp -S fakessh (the sshd is given the
#     machine's sftp-server as its subsystem, and fakessh's default runs
#     the same one at the far end; without one, plain scp -O stands in)
#   git clone of a generated repository (COMMITS commits, FILES files):
#     GIT_SSH_COMMAND=ssh  vs  GIT_SSH_COMMAND=fakessh
#
# and all of it again over the WAN relay of ../shared/bench (50 ms round
# trip, WAN_MBIT Mbit/s each way), with smaller data (WAN_FILES files,
# WAN_MIB MiB) and WAN_RUNS runs, since a 256 MiB file takes 107 s at 20
# Mbit/s.
#
#   tests/bench/bench-fakessh.sh [BUILD_DIR] [RUNS]
#   env: FILES=5000 MIB=256 COMMITS=3000 LOCAL=1 WAN=1 WAN_RUNS=3 WAN_FILES=1000
#        WAN_MIB=16 WAN_MBIT=20 WAN_RELAY=/work/shared/bench/wan-relay.py KEEP_RC=
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
runs=${2:-5}
FILES=${FILES:-5000} MIB=${MIB:-256} COMMITS=${COMMITS:-3000} LOCAL=${LOCAL:-1}
WAN=${WAN:-1} WAN_RUNS=${WAN_RUNS:-3} WAN_FILES=${WAN_FILES:-1000} WAN_MIB=${WAN_MIB:-16}
WAN_MBIT=${WAN_MBIT:-20} WAN_RELAY=${WAN_RELAY:-$here/../../../shared/bench/wan-relay.py}
export PATH=$build/cmd:$PATH
export MITOGEN_AGENT=${MITOGEN_AGENT:-$build/cmd/mitogen-agent}

# The private sshd, restarted with "SetEnv SHLVL=1" so that bash does not
# read root's ~/.bashrc for every command (KEEP_RC=1 keeps it; common.sh).
# shellcheck source=common.sh
source "$here/common.sh"
sftp_server=
for f in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server /usr/lib/ssh/sftp-server; do
	[[ -x $f ]] && sftp_server=$f && break
done
BENCH_SSHD_CONF=${sftp_server:+"Subsystem sftp $sftp_server"}
plain_scp=${sftp_server:+scp}
plain_scp=${plain_scp:-scp -O}
bench_sshd
for p in rsync scp git python3; do
	command -v $p >/dev/null || skip "$p is not installed"
done
T=$BATS_FILE_TMPDIR/data
mkdir -p "$T"

# The data: a tree of small files, one big file, a git repository.
make_tree() { # DIR N
	local d=$1 n=$2 i
	for ((i = 0; i < n; i++)); do
		((i % 100 == 0)) && mkdir -p "$d/d$((i / 100))"
		head -c $((512 + (i * 37) % 7680)) /dev/urandom >"$d/d$((i / 100))/f$i"
	done
}
make_repo() { # DIR COMMITS FILES: one fast-import, a few files changed per commit
	git init -q --bare "$1"
	python3 - "$2" "$3" <<'EOF' | git -C "$1" fast-import --quiet
import os, sys
commits, files = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
def blob(data):
    out.write(b"data %d\n" % len(data) + data + b"\n")
for c in range(commits):
    out.write(b"commit refs/heads/main\ncommitter b <b@b> %d +0000\n" % (1700000000 + c))
    blob(b"commit %d" % c)
    touched = range(files) if c == 0 else [(c * 7 + k * 131) % files for k in range(3)]
    for f in touched:
        out.write(b"M 644 inline d%d/f%d.txt\n" % (f // 100, f))
        blob(os.urandom(300).hex().encode() + b"\n%d %d\n" % (c, f))
EOF
}
echo "bench: making data in $T" >&2
make_tree "$T/tree" "$FILES"
head -c "${MIB}M" /dev/urandom >"$T/big"
make_repo "$T/repo.git" "$COMMITS" "$FILES"

# pair LABEL PREP A B: PREP before each run; A and B interleaved, RUNS
# each; prints both medians and B/A.
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.0f", m}'; }
ms() { # COMMAND...: wall ms, the command must succeed
	local t0 t1
	t0=$(date +%s%N)
	eval "$1" >/dev/null 2>"$T/err" || { cat "$T/err" >&2; echo "bench: failed: $1" >&2; exit 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
pair() {
	local label=$1 prep=$2 a=$3 b=$4 n=$5 i ta=() tb=() ma mb
	for ((i = 0; i < n; i++)); do
		eval "$prep"; ta+=("$(ms "$a")")
		eval "$prep"; tb+=("$(ms "$b")")
	done
	ma=$(printf '%s\n' "${ta[@]}" | median)
	mb=$(printf '%s\n' "${tb[@]}" | median)
	printf '%-40s ssh %7d ms  fakessh %7d ms  %.2fx\n' "$label" "$ma" "$mb" "$(echo "$mb / $ma" | bc -l)"
}

# suite NAME SSH_WORDS SCP_OPTS HOST N TREE BIG: every comparison to one
# end (scp takes -P for a port where ssh takes -p).
suite() {
	local name=$1 ssh=$2 scp_opts=$3 host=$4 n=$5 tree=$6 big=$7
	local fake=${ssh/#ssh/fakessh} d=$T/dst prep="rm -rf $T/dst $T/clone"
	local sudo_rs="--rsync-path='sudo -n rsync'"
	echo "== $name (median of $n runs, cold)"
	pair "rsync -a tree ($(find "$tree" -type f | wc -l) files)" "$prep" \
		"rsync -a -e '$ssh' $tree/ root@$host:$d/" "rsync -a -e '$fake' $tree/ root@$host:$d/" "$n"
	pair "rsync -a tree, ssh+sudo" "$prep" \
		"rsync -a $sudo_rs -e '$ssh' $tree/ root@$host:$d/" \
		"rsync -a -e '$fake' $tree/ root@ssh=$host+sudo=root:$d/" "$n"
	pair "rsync $(($(stat -c %s "$big") >> 20)) MiB file" "$prep" \
		"rsync -a -e '$ssh' $big root@$host:$d" "rsync -a -e '$fake' $big root@$host:$d" "$n"
	pair "rsync $(($(stat -c %s "$big") >> 20)) MiB file, ssh+sudo" "$prep" \
		"rsync -a $sudo_rs -e '$ssh' $big root@$host:$d" \
		"rsync -a -e '$fake' $big root@ssh=$host+sudo=root:$d" "$n"
	pair "scp -O $(($(stat -c %s "$big") >> 20)) MiB file" "$prep" \
		"scp -q -O -S ssh $scp_opts $big root@$host:$d" "scp -q -O -S fakessh $scp_opts $big root@$host:$d" "$n"
	# Without an sftp-server for the sshd, plain scp needs -O.
	pair "scp $(($(stat -c %s "$big") >> 20)) MiB file (SFTP; ssh: $plain_scp)" "$prep" \
		"$plain_scp -q -S ssh $scp_opts $big root@$host:$d" \
		"scp -q -S fakessh $scp_opts $big root@$host:$d" "$n"
	pair "git clone ($COMMITS commits)" "$prep" \
		"GIT_SSH_COMMAND='$ssh' git clone -q root@$host:$T/repo.git $T/clone" \
		"GIT_SSH_COMMAND='$fake' git clone -q root@$host:$T/repo.git $T/clone" "$n"
}

if [[ $LOCAL == 1 ]]; then
	suite "loopback sshd" "ssh -F $MG_SSH_CONFIG -p $MG_SSH_PORT" "-F $MG_SSH_CONFIG -P $MG_SSH_PORT" \
		127.0.0.1 "$runs" "$T/tree" "$T/big"
fi

if [[ $WAN == 1 && -r $WAN_RELAY ]]; then
	cat >"$T/wan_config" <<EOF
Include $MG_SSH_CONFIG
Host wan1
    HostName 127.0.0.1
    Port $MG_SSH_PORT
    HostKeyAlias [127.0.0.1]:$MG_SSH_PORT
    ProxyCommand /usr/bin/python3 $WAN_RELAY 127.0.0.1 $MG_SSH_PORT 50 $WAN_MBIT
EOF
	mkdir -p "$T/wan_tree"
	find "$T/tree" -type f | head -n "$WAN_FILES" | while read -r f; do
		mkdir -p "$T/wan_tree/$(basename "$(dirname "$f")")"
		cp "$f" "$T/wan_tree/$(basename "$(dirname "$f")")/"
	done
	head -c "${WAN_MIB}M" "$T/big" >"$T/wan_big"
	suite "WAN relay, 50 ms RTT, $WAN_MBIT Mbit/s" "ssh -F $T/wan_config" "-F $T/wan_config" wan1 \
		"$WAN_RUNS" "$T/wan_tree" "$T/wan_big"
fi
