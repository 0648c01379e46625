#!/bin/bash
# mitogen-cp -z against scp -C and rsync -z over the WAN relay of
# ../shared/bench (50 ms round trip, 20 Mbit/s) to a private sshd on
# 127.0.0.1 (needs root and openssh-server), same data, same run, the
# variants interleaved (one run of each in turn), medians:
#
#   - a 64 MiB text-like file (log lines: dates, addresses, paths, codes);
#   - the tree of bench-cp.sh, 5,000 files of 1 KiB of random bytes (it
#     does not compress: what -z costs where it cannot help), against
#     tar | ssh -C tar and rsync -az (scp -r -C is left out: a round trip
#     or more per file, over 9 minutes a run here).
#
#   tests/bench/bench-cpz.sh [BUILD_DIR] [RUNS]
#
# Then the text file over loopback (no relay), where compressing costs
# more than it saves (BENCH_CPZ_ONLY_LOOPBACK=1: only that). MG_WAN_RELAY
# names the relay.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
runs=${2:-3}
cp=$build/cmd/mitogen-cp
export MITOGEN_AGENT=${MITOGEN_AGENT:-$build/cmd/mitogen-agent}
relay=${MG_WAN_RELAY:-$here/../../../shared/bench/wan-relay.py}
[[ -f $relay ]] || { echo "bench: no relay at $relay" >&2; exit 1; }

# shellcheck source=common.sh
source "$here/common.sh"
src=$(mktemp -d)
dst=$(mktemp -d /dev/shm/bench-cpz.XXXXXX)
bench_cleanup() { rm -rf "$src" "$dst"; }
bench_sshd
echo "Subsystem sftp internal-sftp" >>"$MG_SSHD_DIR/sshd_config"
kill -HUP "$(cat "$MG_SSHD_DIR/sshd.pid")"
sleep 0.5
port=$MG_SSH_PORT
cfg=$MG_SSHD_DIR/wan_config
{
	printf 'Host wan1\n    HostName 127.0.0.1\n    Port %s\n' "$port"
	printf '    HostKeyAlias [127.0.0.1]:%s\n' "$port"
	printf '    ProxyCommand /usr/bin/python3 %s 127.0.0.1 %s 50 20\n' "$relay" "$port"
	cat "$MG_SSH_CONFIG"
} >"$cfg"
wssh="ssh -F $cfg"
whop="ssh:wan1?ssh_args=$(mg_pct "-F $cfg")"
lhop=$(ssh_hop)

awk 'BEGIN {
	srand(7)
	split("GET POST PUT DELETE", m, " ")
	split("/api/v1/users /api/v1/orders /static/app.js /index.html /login /api/v1/items/search", p, " ")
	split("200 200 200 304 404 500 201", c, " ")
	for (i = 0; i < 900000; i++) {
		printf "2026-12-%02d %02d:%02d:%02d 10.%d.%d.%d %s %s?id=%d %s %d %.3f\n",
			1 + int(i / 30000) % 28, int(rand() * 24), int(rand() * 60), int(rand() * 60),
			int(rand() * 4), int(rand() * 256), int(rand() * 256), m[1 + int(rand() * 4)],
			p[1 + int(rand() * 6)], int(rand() * 100000), c[1 + int(rand() * 7)],
			int(rand() * 50000), rand() * 2
	}
}' | head -c $((64 << 20)) >"$src/text64"
mkdir "$src/tree"
for ((d = 0; d < 50; d++)); do
	mkdir "$src/tree/d$d"
	for ((f = 0; f < 100; f++)); do
		head -c 1024 /dev/urandom >"$src/tree/d$d/f$f"
	done
done
gz=$(gzip -1 -c "$src/text64" | wc -c)

# interleave TITLE BASE_LABEL LABEL=COMMAND...: each run runs every
# command once in turn (dst emptied before each); medians and ratios to
# the first.
interleave() {
	local title=$1 i k t0 t1
	shift
	local -a labels=() cmds=()
	local -A times=()
	for k in "$@"; do
		labels+=("${k%%=*}")
		cmds+=("${k#*=}")
	done
	for ((i = 0; i < runs; i++)); do
		for k in "${!cmds[@]}"; do
			rm -rf "${dst:?}"/*
			t0=$(date +%s%N)
			eval "${cmds[$k]}" >/dev/null 2>&1 || { echo "bench: failed: ${cmds[$k]}" >&2; exit 1; }
			t1=$(date +%s%N)
			times[$k]+="$(((t1 - t0) / 1000)) "
		done
	done
	echo "== $title (median of $runs, interleaved)"
	local base=
	for k in "${!cmds[@]}"; do
		local med
		med=$(tr ' ' '\n' <<<"${times[$k]}" | grep . | sort -n |
			awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m/1000000}')
		base=${base:-$med}
		printf '%-32s %7s s  (%.2fx %s)\n' "${labels[$k]}" "$med" "$(echo "$med / $base" | bc -l)" "${labels[0]}"
	done
}

if [[ ${BENCH_CPZ_ONLY_LOOPBACK:-0} != 1 ]]; then
echo "(64 MiB text: gzip -1 makes it $gz bytes; raw it takes $(echo "67108864 * 8 / 20000000" | bc -l | cut -c1-5) s at 20 Mbit/s)"
interleave "64 MiB text-like file over the WAN relay, 50 ms, 20 Mbit/s" \
	"scp -C=scp -q -C -F $cfg $src/text64 wan1:$dst/" \
	"rsync -z=rsync -z -e '$wssh' $src/text64 wan1:$dst/" \
	"mitogen-cp -z=$cp -q -z $src/text64 '$whop:$dst/'" \
	"mitogen-cp -z (pull)=$cp -q -z '$whop:$src/text64' $dst/" \
	"scp=scp -q -F $cfg $src/text64 wan1:$dst/" \
	"mitogen-cp=$cp -q $src/text64 '$whop:$dst/'"
interleave "5,000 random files of 1 KiB over the WAN relay" \
	"tar | ssh -C tar=tar -C $src -cf - tree | $wssh -C wan1 'tar -C $dst -xf -'" \
	"rsync -az=rsync -az -e '$wssh' $src/tree wan1:$dst/" \
	"mitogen-cp -rz=$cp -q -r -z $src/tree '$whop:$dst/'" \
	"mitogen-cp -r=$cp -q -r $src/tree '$whop:$dst/'"
fi
interleave "64 MiB text-like file over loopback (no relay)" \
	"mitogen-cp=$cp -q $src/text64 '$lhop:$dst/'" \
	"mitogen-cp -z=$cp -q -z $src/text64 '$lhop:$dst/'" \
	"scp -C=scp -q -C -F $MG_SSH_CONFIG -P $port $src/text64 127.0.0.1:$dst/" \
	"rsync -z=rsync -z -e 'ssh -F $MG_SSH_CONFIG -p $port' $src/text64 127.0.0.1:$dst/"
