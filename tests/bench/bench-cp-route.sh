#!/bin/bash
# mitogen-cp where chains share hops (issue 9 items 1 and 3), on the
# private sshd of tests/bench/common.sh (127.0.0.1; needs root and
# openssh-server). Variants interleaved run by run, medians, in seconds:
#
#   1. a 256 MiB file between two contexts behind one ssh hop (two local
#      hops there): mitogen-cp, which has the hop's agent do the copy,
#      against the same copy through this machine (MITOGEN_CP_NO_RELAY=1,
#      the old path), `ssh h cat SRC | ssh h 'cat >DST'`, `scp -3` and, as
#      the floor, `ssh h cp SRC DST`;
#   2. one 64 MiB file pushed to 20 targets behind a bastion (ssh hops
#      from the bastion's agent back to the same sshd): mitogen-cp, one
#      stream to the bastion relayed there, against 20 streams from here
#      (MITOGEN_CP_NO_RELAY=1) and parallel-scp through the bastion
#      (ProxyJump). parallel-scp is Debian's pssh (apt-get install pssh);
#      without it that row is skipped.
#
#   tests/bench/bench-cp-route.sh [BUILD_DIR] [RUNS]
#
# BENCH_CPR_PART=2 runs the second part only.
#
# Destinations are on tmpfs (/dev/shm), so the disk does not set the
# pace. Every tool goes over loopback, so the links are fast and the
# figures mostly count the work of each path (ciphers, copies).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
runs=${2:-5}
cp=$build/cmd/mitogen-cp
export MITOGEN_AGENT=${MITOGEN_AGENT:-$build/cmd/mitogen-agent}
# shellcheck source=common.sh
source "$here/common.sh"
is_root || skip "needs root (a private sshd)"
bench_sshd
# scp speaks sftp; twenty logins at once pass sshd's default MaxStartups
# (10): the bench's sshd takes both (re-read on SIGHUP).
printf 'Subsystem sftp internal-sftp\nMaxStartups 100:30:200\n' >>"$MG_SSHD_DIR/sshd_config"
kill -HUP "$(cat "$MG_SSHD_DIR/sshd.pid")"
sleep 0.5
src=$(mktemp -d /dev/shm/bench-cpr-src.XXXXXX)
dst=$(mktemp -d /dev/shm/bench-cpr-dst.XXXXXX)
bench_cleanup() { rm -rf "$src" "$dst"; }
hop=$(ssh_hop)
port=$MG_SSH_PORT
cfg=$MG_SSH_CONFIG
ssh=(ssh -F "$cfg" -p "$port")

# Run each variant once per round, in turn; print each one's median.
# Variants: NAME=COMMAND (a shell function or a command line for eval).
compare() {
	local -a names=() cmds=()
	local v i k t0 t1
	for v in "$@"; do
		names+=("${v%%=*}")
		cmds+=("${v#*=}")
	done
	for ((i = 0; i < runs; i++)); do
		for k in "${!cmds[@]}"; do
			rm -rf "${dst:?}"/*
			t0=$(date +%s%N)
			eval "${cmds[$k]}" >/dev/null 2>"$MG_SSHD_DIR/err" || {
				echo "bench: failed: ${names[$k]}:" >&2
				tail -3 "$MG_SSHD_DIR/err" | cut -c1-300 >&2
				exit 1
			}
			t1=$(date +%s%N)
			echo "$k $(((t1 - t0) / 1000))"
		done
	done | sort -k1,1n -k2,2n | awk -v n="$runs" '
		{ v[$1, c[$1]++] = $2 }
		END { for (k = 0; k in c; k++) {
			m = (n % 2) ? v[k, (n - 1) / 2] : (v[k, n / 2 - 1] + v[k, n / 2]) / 2
			printf "%d %.3f\n", k, m / 1000000 } }' |
	while read -r k secs; do
		[[ $k == 0 ]] && base=$secs
		[[ $base != 0.000 ]] || continue
		printf '%-44s %8s s  (%.2fx %s)\n' "${names[$k]}" "$secs" \
			"$(echo "$secs / $base" | bc -l)" "${names[0]}"
	done
}

head -c $((256 << 20)) /dev/urandom >"$src/big"
head -c $((64 << 20)) "$src/big" >"$src/m64"

if [[ ${BENCH_CPR_PART:-1} == 1 ]]; then
echo "== 256 MiB between two contexts behind one ssh hop (median of $runs; machine shared, loaded)"
a="$hop/local?connect_timeout=31"
b="$hop/local?connect_timeout=32"
compare \
	"mitogen-cp (done by the hop)=$cp -q '$a:$src/big' '$b:$dst/'" \
	"mitogen-cp through here (old path)=MITOGEN_CP_NO_RELAY=1 $cp -q '$a:$src/big' '$b:$dst/'" \
	"ssh h cat | ssh h 'cat >'=${ssh[*]} 127.0.0.1 cat $src/big | ${ssh[*]} 127.0.0.1 'cat >$dst/big'" \
	"scp -3=scp -3 -q -F $cfg -P $port 127.0.0.1:$src/big 127.0.0.1:$dst/" \
	"ssh h cp (the floor)=${ssh[*]} 127.0.0.1 cp $src/big $dst/"

fi

echo "== 64 MiB to 20 targets behind a bastion (median of $runs; machine shared, loaded)"
many=()
for ((i = 1; i <= 20; i++)); do
	many+=(-w "$hop/$(ssh_hop "" "connect_timeout=$((30 + i))")")
done
variants=(
	"mitogen-cp (relayed at the bastion)=$cp -q ${many[*]@Q} '$src/m64' ':$dst/'"
	"mitogen-cp, 20 streams from here=MITOGEN_CP_NO_RELAY=1 $cp -q ${many[*]@Q} '$src/m64' ':$dst/'"
)
if command -v parallel-scp >/dev/null; then
	pcfg=$MG_SSHD_DIR/pssh_config
	{
		printf 'Host bastion t*\n    HostName 127.0.0.1\n    Port %s\n' "$port"
		printf '    HostKeyAlias [127.0.0.1]:%s\n' "$port"
		printf 'Host t*\n    ProxyJump bastion\n'
		cat "$cfg"
	} >"$pcfg"
	for ((i = 1; i <= 20; i++)); do
		echo "t$i"
	done >"$MG_SSHD_DIR/pssh_hosts"
	variants+=("parallel-scp -p 20 (ProxyJump bastion)=parallel-scp -p 20 -h $MG_SSHD_DIR/pssh_hosts -x '-F $pcfg' $src/m64 $dst/")
else
	echo "(parallel-scp not installed: apt-get install pssh)"
fi
compare "${variants[@]}"
