#!/bin/bash
# mitogen-cp against scp, scp -O, rsync and tar | ssh tar, over one ssh
# hop (and ssh + sudo) to a private sshd on 127.0.0.1 (needs root and
# openssh-server), same data, same run, medians; the destination is a
# tmpfs (/dev/shm), so the disk does not set the pace:
#
#   - one 256 MiB file of random bytes;
#   - a tree of 5,000 small files (1 KiB each, in 50 directories).
#
#   tests/bench/bench-cp.sh [BUILD_DIR] [RUNS]
#
# Then the same tree over the WAN relay of ../shared/bench (50 ms round
# trip, 20 Mbit/s), against tar | ssh tar and rsync, with ssh's login as
# the yardstick (MG_WAN_RELAY names the relay; BENCH_CP_WAN=0 skips it).
#
# Then 64 MiB to 20 targets behind a bastion, against parallel-scp
# (pssh) through the same bastion (BENCH_CP_ONLY_MANY=1: that alone).
#
# Also prints the largest RSS of mitogen-cp and of the far agent for the
# big file (GNU time).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
runs=${2:-5}
cp=$build/cmd/mitogen-cp
export MITOGEN_AGENT=${MITOGEN_AGENT:-$build/cmd/mitogen-agent}

src=$(mktemp -d)
dst=$(mktemp -d /dev/shm/bench-cp.XXXXXX)
bench_cleanup() { rm -rf "$src" "$dst"; }
# The private sshd with SHLVL=1 set: root's .bashrc (pyenv) would add
# some 300 ms to every ssh command, ours and the peers' alike.
# shellcheck source=common.sh
source "$here/common.sh"
# scp speaks sftp by default: give the bench's sshd the subsystem, and
# room for parallel-scp's 40 logins at once (sshd drops some past 10
# unauthenticated by default).
BENCH_SSHD_CONF=$'Subsystem sftp internal-sftp\nMaxStartups 100'
bench_sshd
hop=$(ssh_hop)
port=$MG_SSH_PORT
cfg=$MG_SSH_CONFIG
sshcmd="ssh -F $cfg -p $port"

head -c $((256 << 20)) /dev/urandom >"$src/big"
mkdir "$src/tree"
for ((d = 0; d < 50; d++)); do
	mkdir "$src/tree/d$d"
	for ((f = 0; f < 100; f++)); do
		head -c 1024 /dev/urandom >"$src/tree/d$d/f$f"
	done
done

median() { # N command...: median wall time in s over N runs, dst emptied before each
	local n=$1; shift
	local i t0 t1
	for ((i = 0; i < n; i++)); do
		rm -rf "${dst:?}"/*
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; kill $$; exit 1; }
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000))
	done | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f\n", m/1000000}'
}

row() { # LABEL SECS BASE_SECS BASE_NAME
	printf '%-40s %8s s  (%.2fx %s)\n' "$1" "$2" "$(echo "$2 / $3" | bc -l)" "$4"
}

tar_ssh() { tar -C "$src" -cf - tree | $sshcmd 127.0.0.1 "tar -C $dst -xf -"; }
tar_ssh_sudo() { tar -C "$src" -cf - tree | $sshcmd 127.0.0.1 "sudo -n tar -C $dst -xf -"; }

wan() {
	local relay=${MG_WAN_RELAY:-$here/../../../shared/bench/wan-relay.py}
	[[ -f $relay ]] || { echo "== WAN: no relay at $relay, skipped"; return 0; }
	local wcfg=$MG_SSHD_DIR/wan_config
	{
		printf 'Host wan1\n    HostName 127.0.0.1\n    Port %s\n' "$port"
		printf '    HostKeyAlias [127.0.0.1]:%s\n' "$port"
		printf '    ProxyCommand /usr/bin/python3 %s 127.0.0.1 %s 50 20\n' "$relay" "$port"
		cat "$cfg"
	} >"$wcfg"
	local wssh="ssh -F $wcfg" whop
	whop="ssh:wan1?ssh_args=$(mg_pct "-F $wcfg")"
	wtar() { tar -C "$src" -cf - tree | $wssh wan1 "tar -C $dst -xf -"; }
	echo "== 5,000 files of 1 KiB over the WAN relay, 50 ms, 20 Mbit/s (median of $runs)"
	local login base
	login=$(median "$runs" $wssh wan1 true)
	row "ssh wan1 true (a login)" "$login" "$login" login
	base=$(median "$runs" wtar)
	row "tar | ssh tar" "$base" "$base" tar
	row "rsync -a" "$(median "$runs" rsync -a -e "$wssh" "$src/tree" "wan1:$dst/")" "$base" tar
	row "mitogen-cp -r" "$(median "$runs" "$cp" -q -r "$src/tree" "$whop:$dst/")" "$base" tar
	row "mitogen-cp -r (pull)" "$(median "$runs" "$cp" -q -r "$whop:$src/tree" "$dst/")" "$base" tar
	echo "(the tree's bytes, $(du -sb "$src/tree" | cut -f1), take $(echo "$(du -sb "$src/tree" | cut -f1) * 8 / 20000000" | bc -l | cut -c1-5) s at 20 Mbit/s)"
}

many_targets() {
	echo "== 64 MiB to 20 targets behind a bastion (median of $runs)"
	# Ours: the bastion is the ssh hop, the targets local hops there (the
	# stream crosses the ssh link once). parallel-scp (pssh): 20 scp to
	# hosts t1..t20, each an ssh login through the same sshd as bastion
	# (ProxyJump), so the bastion's link carries it 20 times. All write the
	# same name: timing only.
	head -c $((64 << 20)) "$src/big" >"$src/m64"
	local many=() one multi base jcfg i
	for ((i = 1; i <= 20; i++)); do
		many+=(-w "$hop/local?connect_timeout=$((30 + i))")
	done
	one=$(median "$runs" "$cp" -q "$src/m64" "$hop/local:$dst/")
	row "mitogen-cp, 1 target" "$one" "$one" "1 target"
	if command -v parallel-scp >/dev/null; then
		jcfg=$MG_SSHD_DIR/jump_config
		{
			printf 'Host bastion\n    HostName 127.0.0.1\n    Port %s\n' "$port"
			printf 'Host t*\n    HostName 127.0.0.1\n    Port %s\n    ProxyJump bastion\n' "$port"
			printf '    HostKeyAlias [127.0.0.1]:%s\n' "$port"
			cat "$cfg"
		} >"$jcfg"
		for ((i = 1; i <= 20; i++)); do echo "t$i"; done >"$MG_SSHD_DIR/hosts20"
		pscp20() { parallel-scp -p 20 -t 0 -h "$MG_SSHD_DIR/hosts20" -x "-F $jcfg" "$src/m64" "$dst/"; }
		base=$(median "$runs" pscp20)
		row "parallel-scp -h 20 hosts (-J bastion)" "$base" "$one" "1 target"
	else
		base=
		echo "(parallel-scp not installed: no pssh row)"
	fi
	multi=$(median "$runs" "$cp" -q "${many[@]}" "$src/m64" ":$dst/")
	row "mitogen-cp, 20 targets (relayed there)" "$multi" "$one" "1 target"
	if [[ -n $base ]]; then
		row "mitogen-cp, 20 targets against parallel-scp" "$multi" "$base" "parallel-scp"
	fi
}

if [[ ${BENCH_CP_ONLY_WAN:-0} == 1 ]]; then
	wan
	exit 0
fi
if [[ ${BENCH_CP_ONLY_MANY:-0} == 1 ]]; then
	many_targets
	exit 0
fi

echo "== 256 MiB file to tmpfs over one ssh hop (median of $runs)"
base=$(median "$runs" scp -q -F "$cfg" -P "$port" "$src/big" "127.0.0.1:$dst/")
row "scp" "$base" "$base" scp
row "scp -O" "$(median "$runs" scp -O -q -F "$cfg" -P "$port" "$src/big" "127.0.0.1:$dst/")" "$base" scp
row "rsync" "$(median "$runs" rsync -a -e "$sshcmd" "$src/big" "127.0.0.1:$dst/")" "$base" scp
row "mitogen-cp" "$(median "$runs" "$cp" -q "$src/big" "$hop:$dst/")" "$base" scp
row "mitogen-cp (pull)" "$(median "$runs" "$cp" -q "$hop:$src/big" "$dst/")" "$base" scp
row "mitogen-cp ssh+sudo" "$(median "$runs" "$cp" -q "$src/big" "$hop/sudo:$dst/")" "$base" scp

echo "== 5,000 files of 1 KiB to tmpfs over one ssh hop (median of $runs)"
base=$(median "$runs" tar_ssh)
row "tar | ssh tar" "$base" "$base" tar
row "scp -r" "$(median "$runs" scp -r -q -F "$cfg" -P "$port" "$src/tree" "127.0.0.1:$dst/")" "$base" tar
row "scp -O -r" "$(median "$runs" scp -O -r -q -F "$cfg" -P "$port" "$src/tree" "127.0.0.1:$dst/")" "$base" tar
row "rsync -a" "$(median "$runs" rsync -a -e "$sshcmd" "$src/tree" "127.0.0.1:$dst/")" "$base" tar
row "mitogen-cp -r" "$(median "$runs" "$cp" -q -r "$src/tree" "$hop:$dst/")" "$base" tar
row "mitogen-cp -r (pull)" "$(median "$runs" "$cp" -q -r "$hop:$src/tree" "$dst/")" "$base" tar
base=$(median "$runs" tar_ssh_sudo)
row "tar | ssh sudo tar" "$base" "$base" "tar+sudo"
row "mitogen-cp -r ssh+sudo" "$(median "$runs" "$cp" -q -r "$src/tree" "$hop/sudo:$dst/")" "$base" "tar+sudo"

if [[ ${BENCH_CP_WAN:-1} != 0 ]]; then
	wan
fi

many_targets

# Is PID a descendant of our sshd (not another run's agent)?
under_sshd() {
	local p=$1
	while [[ -n $p && $p != 0 && $p != 1 ]]; do
		[[ $p == "$sshd_pid" ]] && return 0
		p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)
	done
	return 1
}

echo "== largest RSS, 256 MiB push over ssh + sudo"
rm -rf "${dst:?}"/*
"$cp" -q "$src/big" "$hop/sudo:$dst/" &
pid=$!
hwm_master=0 hwm_far=0
sshd_pid=$(cat "$MG_SSHD_DIR/sshd.pid")
while kill -0 "$pid" 2>/dev/null; do
	h=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
	((${h:-0} > hwm_master)) && hwm_master=$h
	for a in $(pgrep -f mitogen-agent); do
		under_sshd "$a" || continue
		h=$(awk '/VmHWM/ {print $2}' "/proc/$a/status" 2>/dev/null || echo 0)
		((${h:-0} > hwm_far)) && hwm_far=$h
	done
	sleep 0.05
done
wait "$pid"
echo "mitogen-cp: $hwm_master KiB; far agents (ssh and sudo hops): $hwm_far KiB (largest VmHWM seen)"
