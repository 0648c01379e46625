#!/bin/bash
# The CPU one cold command costs on the far end, one run at a time (no
# fan-out, no contention): everything the private sshd and its sessions
# use, read from a cpuacct cgroup (cgroup v1) or the cgroup's cpu.stat
# (v2) that the sshd is moved into. Same run, forms in turn, medians:
#
#   ssh 127.0.0.1 true
#   mitogen-run ssh:127.0.0.1 true                  (image in the command)
#   mitogen-run ssh:127.0.0.1?image_in_command=no true   (image on stdin)
#   the first with the exec-only agent (MITOGEN_AGENT_LEAF=, 2.3.4)
#   the second with the leaf agent unpacked, as a fan-out's hops get it
#   (PROTOCOL 2.2; MITOGEN_AGENT_LEAF=BUILD/cmd/mitogen-agent-leaf.raw)
#
# bench-fanout.sh measures the same under a fan-out, where the far ends
# share the CPUs; this one says what a single hop costs there, which
# fan-out multiplies (issue 11, item 4).
#
#   tests/bench/bench-far-cpu.sh [BUILD_DIR] [RUNS]      RUNS default 20
set -eu

here=$(cd "$(dirname "$0")" && pwd)
runs=${2:-20}

# shellcheck source=common.sh
source "$here/common.sh"
bench_build "${1:-build}"

if [[ -d /sys/fs/cgroup/cpuacct ]]; then
	cg=/sys/fs/cgroup/cpuacct/mg-far-cpu.$$
	root_tasks=/sys/fs/cgroup/cpuacct/tasks
	usage_us() { echo $(($(<"$cg/cpuacct.usage") / 1000)); }
elif [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
	cg=/sys/fs/cgroup/mg-far-cpu.$$
	root_tasks=/sys/fs/cgroup/cgroup.procs
	usage_us() { awk '$1 == "usage_usec" {print $2}' "$cg/cpu.stat"; }
else
	skip "no cgroup hierarchy to account the sshd's CPU in"
fi
bench_cleanup() {
	[[ -d $cg ]] || return 0
	local p
	# Back to the root group, so that the group can go.
	while read -r p; do
		echo "$p" >"$root_tasks" 2>/dev/null || true
	done <"$cg/cgroup.procs"
	rmdir "$cg" 2>/dev/null || true
}
bench_sshd
mkdir "$cg" || skip "cannot create $cg"
echo "$(<"$MG_SSHD_DIR/sshd.pid")" >"$cg/cgroup.procs"
hop=$(ssh_hop)
ssh=(ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" 127.0.0.1)

# One checked run of a form, then a pause for the sessions to end: the
# CPU its far end used, in us.
far_us() {
	local u0 u1
	sleep 0.2
	u0=$(usage_us)
	"$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
	sleep 0.3
	u1=$(usage_us)
	echo $((u1 - u0))
}

raw_leaf=$build/cmd/mitogen-agent-leaf.raw
labels=("ssh 127.0.0.1 true" "mitogen-run ssh:127.0.0.1 true" "  the same, image_in_command=no"
	"  the same, exec-only agent" "  image on stdin, leaf unpacked")
declare -a times=()
for ((i = 0; i < runs; i++)); do
	times[0]+="$(far_us "${ssh[@]}" true) "
	times[1]+="$(far_us "$run" "$hop" -- true) "
	times[2]+="$(far_us "$run" "$hop&image_in_command=no" -- true) "
	times[3]+="$(far_us env MITOGEN_AGENT_LEAF= "$run" "$hop" -- true) "
	if [[ -f $raw_leaf ]]; then
		times[4]+="$(far_us env MITOGEN_AGENT_LEAF="$raw_leaf" "$run" "$hop&image_in_command=no" -- true) "
	fi
done
echo "== far-end CPU of one cold command (sshd and its sessions), median of $runs runs"
# shellcheck disable=SC2086 # the times, one word each
base=$(median_us ${times[0]})
for k in 0 1 2 3 4; do
	[[ -n ${times[k]:-} ]] || continue
	# shellcheck disable=SC2086
	ms=$(median_us ${times[k]})
	printf '%-44s %8s ms  (%+.1f ms)\n' "${labels[k]}" "$ms" "$(echo "$ms - $base" | bc -l)"
done
