#!/bin/bash
# Persistent chains against OpenSSH's ControlMaster, to a private sshd on
# 127.0.0.1 (needs root, openssh-server, sudo):
#
#   N  ssh h1 true                     over a warm ControlMaster
#   N  mitogen-run --persist ssh:h1 true      (the holder warm)
#   N  ssh h1 sudo -n true             over the same master
#   N  mitogen-run --persist ssh:h1/sudo true
#   N  mitogen-run --persist ssh:h1 true, 16 clients at once
#   N  mitogen-run --version, and the login shell's "-c true", run here:
#      what any command pays to start, and what the far end's shell costs
#      (sshd and the agent both run the command through it); their sum is
#      the floor for --persist on this machine
#
# then the holder's open fds and RSS before and after another M commands.
# Milliseconds per command (wall time of the whole loop / N). The sshd is
# restarted with "SetEnv SHLVL=1" by common.sh (KEEP_RC=1
# leaves it as it is).
#
#   tests/bench/bench-persist.sh [BUILD_DIR] [N] [M]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
n=${2:-1000}
m=${3:-10000}
export PATH=$build/cmd:$PATH
export MITOGEN_AGENT=${MITOGEN_AGENT:-$build/cmd/mitogen-agent}

# shellcheck source=common.sh
source "$here/common.sh"
export XDG_RUNTIME_DIR=$BATS_FILE_TMPDIR/xdg
mkdir -m 700 "$XDG_RUNTIME_DIR"
cm=$BATS_FILE_TMPDIR/cm
mkdir -m 700 "$cm"
holder_pid() { mitogen-run --persist-list 2>/dev/null | sed -n 's/^holder pid \([0-9]*\),.*/\1/p'; }
bench_cleanup() {
	mitogen-run --persist-stop >/dev/null 2>&1 || true
	ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" -o ControlPath="$cm/%C" -O exit 127.0.0.1 2>/dev/null || true
}
bench_sshd

hop=$(ssh_hop)
cmssh=(ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" -o ControlMaster=auto
       -o ControlPath="$cm/%C" -o ControlPersist=10m 127.0.0.1)
# Warm both.
"${cmssh[@]}" true
"${cmssh[@]}" sudo -n true
mitogen-run --persist "$hop" true
mitogen-run --persist "$hop/sudo" true

# ms per command of "$@" run n times.
per() {
	local t0 t1 i
	t0=$(date +%s%N)
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null || { echo "bench: $* failed" >&2; return 1; }
	done
	t1=$(date +%s%N)
	echo "scale=2; ($t1 - $t0) / 1000000 / $n" | bc
}

par16() {
	local t0 t1 j
	t0=$(date +%s%N)
	for ((j = 0; j < 16; j++)); do
		(for ((i = 0; i < n / 16; i++)); do mitogen-run --persist "$hop" true || exit 1; done) &
	done
	wait
	t1=$(date +%s%N)
	echo "scale=2; ($t1 - $t0) / 1000000 / ($n / 16 * 16)" | bc
}

hp=$(holder_pid)
fds() { ls "/proc/$hp/fd" | wc -l; }
rss() { sed -n 's/^VmRSS:[[:space:]]*//p' "/proc/$hp/status"; }
fd0=$(fds) rss0=$(rss)

printf '%-44s %8s\n' "commands: $n each" "ms/cmd"
printf '%-44s %8s\n' "ssh h1 true (ControlMaster)" "$(per "${cmssh[@]}" true)"
printf '%-44s %8s\n' "mitogen-run --persist ssh:h1 true" "$(per mitogen-run --persist "$hop" true)"
printf '%-44s %8s\n' "ssh h1 sudo -n true (ControlMaster)" "$(per "${cmssh[@]}" sudo -n true)"
printf '%-44s %8s\n' "mitogen-run --persist ssh:h1/sudo true" "$(per mitogen-run --persist "$hop/sudo" true)"
printf '%-44s %8s\n' "mitogen-run --persist ssh:h1 true, 16 at once" "$(par16)"
login_shell=$(getent passwd "$(id -un)" | cut -d: -f7)
printf '%-44s %8s\n' "floor: mitogen-run --version" "$(per mitogen-run --version)"
printf '%-44s %8s\n' "floor: ${login_shell##*/} -c true (login shell)" "$(per "$login_shell" -c true)"
fd1=$(fds) rss1=$(rss)
for ((i = 0; i < m; i++)); do
	mitogen-run --persist "$hop" true >/dev/null
done
fd2=$(fds) rss2=$(rss)
echo "holder pid $hp: fds $fd0 -> $fd1 -> $fd2 (after $m more), RSS $rss0 -> $rss1 -> $rss2"
