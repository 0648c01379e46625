#!/bin/bash
# Two builds of mitogen-run against each other and ssh, interleaved over
# the WAN relay: each round runs, 0.3 s apart,
#
#   ssh wan1 true                    (SUDO=1: ssh wan1 sudo -n true)
#   BASE_BUILD's mitogen-run ssh:wan1 true    (SUDO=1: ssh:wan1/sudo)
#   BUILD's mitogen-run ssh:wan1 true
#
# so that a change worth a millisecond or two shows through the relay's
# and the machine's drift, which runs one after the other would not
# (bench-wan.sh). Medians, ratios and round trips over ssh.
#   tests/bench/bench-wan-builds.sh BUILD BASE_BUILD [ROUNDS] [RTT_MS] [MBIT]
# ROUNDS 40, RTT 10, MBIT 100 by default. SENDENV=1 adds "SendEnv LANG
# LC_*" (Debian's client default, which -F drops) to the alias, so the
# far login shell runs in this side's locale. A base build is made with,
# for example, git worktree add --detach ../base REV; meson setup and
# ninja there. Needs what bench-wan.sh needs.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
new=$(cd "${1:?usage: bench-wan-builds.sh BUILD BASE_BUILD [ROUNDS] [RTT_MS] [MBIT]}" && pwd)
old=$(cd "${2:?usage: bench-wan-builds.sh BUILD BASE_BUILD [ROUNDS] [RTT_MS] [MBIT]}" && pwd)
rounds=${3:-40}
rtt=${4:-10}
mbit=${5:-100}
for b in "$new" "$old"; do
	[[ -x $b/cmd/mitogen-run ]] || { echo "bench: $b/cmd/mitogen-run not built" >&2; exit 1; }
done

# shellcheck source=common.sh
source "$here/common.sh"
bench_sshd
wan_config "$rtt" "$mbit"
cfg=$wan_cfg
if [[ -n ${SENDENV:-} ]]; then
	sed -i '1i SendEnv LANG LC_*' "$cfg"
fi
sudo=${SUDO:+/sudo}
hop="ssh:wan1?ssh_args=$(mg_pct "-F $cfg")$sudo"

# mg BUILD: mitogen-run of BUILD with its own agents and helper.
mg() {
	once_us env MITOGEN_AGENT="$1/cmd/mitogen-agent" MITOGEN_CONNECT="$1/cmd/mitogen-connect" \
		"$1/cmd/mitogen-run" "$hop" -- true
}

ssh_us=() old_us=() new_us=()
for ((i = 0; i < rounds; i++)); do
	ssh_us+=("$(once_us ssh -F "$cfg" wan1 ${sudo:+sudo -n} true)")
	old_us+=("$(mg "$old")")
	new_us+=("$(mg "$new")")
done

base=$(median_us "${ssh_us[@]}")
row() { rtt_row "$1" "$2" "$base" "$rtt"; }
echo "== WAN relay: ${rtt} ms round trip, ${mbit} Mbit/s, $rounds interleaved rounds${SENDENV:+, SendEnv LANG LC_*}, load $(cut -d' ' -f1 /proc/loadavg)"
row "ssh wan1 ${sudo:+sudo -n }true" "$base"
row "base: $old" "$(median_us "${old_us[@]}")"
row "this: $new" "$(median_us "${new_us[@]}")"
