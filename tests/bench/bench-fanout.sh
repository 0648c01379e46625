#!/bin/bash
# Fan-out benchmark against a private sshd on 127.0.0.1 (needs root and
# openssh-server; pdsh, clush and parallel-ssh from the Debian packages pdsh,
# clustershell and pssh). Same targets, same parallelism, same run, medians:
#
#   mitogen-run -f F -w 'ssh:web[001-N]?ssh_args=-F CFG' -- CMD
#   pdsh -R ssh -S -f F -w web[001-N] CMD        (PDSH_SSH_ARGS="-F CFG ...")
#   clush -S -f F -w web[001-N] -o '-F CFG' CMD
#   parallel-ssh -P -p F -x '-F CFG' -H 'web001 ...' CMD
#
# for N in $NS (default 10 50 100) and CMD in `true`, `uname -a`; then the
# same 50 targets behind a bastion: the chain ssh:bastion/ssh:web[001-050]
# (one connection to the bastion, the ssh to each target starts there)
# against the peers with `ssh -J bastion` (two ssh logins per target, the
# second tunnelled through the first); then the peak RSS (VmHWM) of each
# tool's own process at N=100; then the CPU each tool costs per target at
# N=100, `true`: its own process, the same with every process it starts
# (ssh above all), and on the far end (the sshd's sessions and all they
# run, the agent included) - on this loopback bench the far ends share the
# master's CPUs, so the wall times above follow the sum.
#
#   tests/bench/bench-fanout.sh [BUILD_DIR] [RUNS]      RUNS default 5
#   env: FANOUT (64), NS ("10 50 100"), BASTION_N (50; 0 skips it), KEEP_RC (unset),
#        CPU_N (100; 0 skips the CPU table), PERF_N (unset: no per-process
#        table; N: one run of each tool at N targets under `perf record -a`),
#        MITOGEN_CONNECT (as bench-ssh.sh),
#        FAR_CPUS (unset: everything shares every CPU),
#        SUDO (set: every target becomes root, mitogen-run through
#        ssh:webN/sudo, the peers with `sudo -n CMD`)
#
# FAR_CPUS=LIST (taskset's list, e.g. 1) pins the sshd, so every far end,
# to those CPUs and each tool with all it starts to the others. In a real
# fan-out the far ends are other machines and only the master's CPU is
# shared; on one machine the far ends otherwise take the tools' CPU, so the
# wall times follow master + far end instead of the master alone. With the
# CPU split, a tool whose far end costs more but whose own side costs less
# shows what it would on a fleet, as long as the far CPUs keep up (the CPU
# table says whether they do: far end x N against +children x N).
#
# Every web001..web100 is an ssh_config alias of the one sshd; "bastion" is
# one more. Host keys are checked (StrictHostKeyChecking yes): ssh looks the
# key up under [127.0.0.1]:PORT, the HostName and Port of the alias, which is
# what known_hosts holds. `-J 127.0.0.1:PORT` cannot be used: ssh refuses it
# as a "jumphost loop" since the jump host's name equals the target's
# HostName, hence the alias.
#
# The sshd is started by tests/cli/sshd.bash, then restarted on the same port
# with MaxStartups raised (sshd.bash has no hook for extra sshd_config lines),
# so that no tool is throttled by sshd's default 10:30:100; sshd.bash sets
# "SetEnv SHLVL=1": bash then counts as a nested shell and does not read
# ~/.bashrc for the ssh session. Every login runs the remote command through
# root's login shell, and a heavy rc file (here root's .bashrc runs
# `pyenv init`: ~140 ms per login, and its `pyenv rehash` races with itself
# at 100 concurrent logins and writes errors to stderr) would swamp what the
# tools themselves cost. It applies to every tool alike; KEEP_RC=1 leaves it
# out.
#
# CMD is always one word, so mitogen-run runs it with /bin/sh -c, as the
# remote shell does for the peers. Each run's standard output and error go
# to files (not /dev/null, to be counted); the run is then checked:
# exit status 0, nothing on standard error, for `uname -a` exactly one
# "webNNN: Linux ..." line per target (no other line), for `true` no output
# line (parallel-ssh -P: plus one [SUCCESS] status line per target), and the
# number of "Accepted publickey" lines sshd logged during the run equals the
# logins the tool must make (N; bastion: N+1 for the chain, 2N for -J). Any
# failed check stops the script with the run's output.
#
# Rounds are interleaved (each round runs every tool once, in a rotating
# order) so that drift of the machine hits all tools alike; one untimed
# warm-up run per tool comes first.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
runs=${2:-5}
fanout=${FANOUT:-64}
ns=${NS:-10 50 100}
bastion_n=${BASTION_N:-50}
run=$build/cmd/mitogen-run
export MITOGEN_AGENT=${MITOGEN_AGENT:-$build/cmd/mitogen-agent}
# The TCP_NODELAY helper, as an installed mitogen-run finds it.
export MITOGEN_CONNECT=${MITOGEN_CONNECT-$build/cmd/mitogen-connect}
cpu_n=${CPU_N:-100}
perf_n=${PERF_N:-0}
sudo=${SUDO:+/sudo}
far_cpus=${FAR_CPUS:-}
near=() far=()
if [[ -n $far_cpus ]]; then
	command -v taskset >/dev/null || { echo "bench: FAR_CPUS needs taskset (util-linux)" >&2; exit 1; }
	# The other online CPUs, as a list taskset takes.
	near_cpus=$(python3 -c 'import os, sys
far = set()
for part in sys.argv[1].split(","):
    a, _, b = part.partition("-")
    far.update(range(int(a), int(b or a) + 1))
print(",".join(str(c) for c in sorted(os.sched_getaffinity(0) - far)))' "$far_cpus") ||
		{ echo "bench: FAR_CPUS=$far_cpus is not a CPU list" >&2; exit 1; }
	[[ -n $near_cpus ]] || { echo "bench: FAR_CPUS=$far_cpus leaves no CPU for the tools" >&2; exit 1; }
	near=(taskset -c "$near_cpus")
	far=(taskset -c "$far_cpus")
fi
[[ -x $run ]] || { echo "bench: $run not built" >&2; exit 1; }
for t in pdsh clush parallel-ssh; do
	command -v "$t" >/dev/null ||
		{ echo "bench: $t is missing (apt-get install -y pdsh clustershell pssh)" >&2; exit 1; }
done

# sshd.bash is written for bats; give it what it expects.
BATS_FILE_TMPDIR=$(mktemp -d)
export BATS_FILE_TMPDIR
skip() { echo "bench: $*" >&2; exit 1; }
is_root() { [[ $(id -u) -eq 0 ]]; }
# shellcheck source=../cli/sshd.bash
source "$here/../cli/sshd.bash"
trap 'stop_sshd; rm -rf "$BATS_FILE_TMPDIR"' EXIT
start_sshd
[[ -z ${MG_SSHD_SKIP:-} ]] || skip "$MG_SSHD_SKIP"
d=$MG_SSHD_DIR
port=$MG_SSH_PORT
log=$d/sshd.log

# Restart the listener on the same port with MaxStartups raised (and the
# login shell's rc file skipped, see above).
pid=$(<"$d/sshd.pid")
stop_sshd
for ((i = 0; i < 100; i++)); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
! kill -0 "$pid" 2>/dev/null || { echo "bench: sshd $pid did not stop" >&2; exit 1; }
echo "MaxStartups 1000:30:1000" >>"$d/sshd_config"
_mg_sshd_launch ${far[@]+"${far[@]}"} ||
	{ echo "bench: sshd did not restart on port $port: $(tail -3 "$log")" >&2; exit 1; }
maxstartups=$(/usr/sbin/sshd -T -f "$d/sshd_config" | awk '$1 == "maxstartups" {print $2}')
[[ $maxstartups == 1000:30:1000 ]] || { echo "bench: sshd MaxStartups is $maxstartups" >&2; exit 1; }
rcfiles="login shell rc files skipped (SetEnv SHLVL=1)"
[[ -z ${KEEP_RC:-} ]] || rcfiles="login shell rc files read (KEEP_RC)"

# The client config: 100 aliases and a bastion, then the test config's
# "Host *" block (key, known_hosts, strict checking, no multiplexing).
cfg=$d/fanout_config
{
	printf 'Host bastion\n    HostName 127.0.0.1\n    Port %s\n' "$port"
	for ((i = 1; i <= 100; i++)); do
		printf 'Host web%03d\n    HostName 127.0.0.1\n    Port %s\n' "$i" "$port"
	done
	cat "$MG_SSH_CONFIG"
} >"$cfg"
for h in bastion web001 web100; do
	got=$(ssh -G -F "$cfg" "$h" 2>/dev/null | awk '$1 == "hostname" || $1 == "port" || $1 == "stricthostkeychecking" {printf "%s ", $2}')
	[[ $got == "127.0.0.1 $port true " ]] || { echo "bench: ssh -G $h resolves to: $got" >&2; exit 1; }
done
ssh -F "$cfg" web100 true </dev/null ||
	{ echo "bench: ssh -F $cfg web100 true failed (host key?)" >&2; exit 1; }
enc=$(mg_pct "-F $cfg")

out=$d/out
err=$d/err
accepted() { grep -c 'Accepted publickey' "$log" || true; }

# tool_argv TOOL N [bastion]: set argv and pdsh_args for one run of CMD
# (given later) on web001..webN.
tool_argv() {
	local tool=$1 n=$2 via=${3:-}
	local last jump='' hosts='' i
	last=$(printf '%03d' "$n")
	[[ -z $via ]] || jump=" -J $via"
	pdsh_args=
	case $tool in
	mitogen-run)
		if [[ -n $via ]]; then
			argv=("$run" -f "$fanout" -w "ssh:$via?ssh_args=$enc/ssh:web[001-$last]?ssh_args=$enc$sudo" --)
		else
			argv=("$run" -f "$fanout" -w "ssh:web[001-$last]?ssh_args=$enc$sudo" --)
		fi
		;;
	pdsh)
		pdsh_args="-F $cfg$jump -2 -a -x -l%u %h"
		argv=(pdsh -R ssh -S -f "$fanout" -w "web[001-$last]" ${sudo:+sudo -n})
		;;
	clush)
		argv=(clush -S -f "$fanout" -w "web[001-$last]" -o "-F $cfg$jump" ${sudo:+sudo -n})
		;;
	pssh)
		for ((i = 1; i <= n; i++)); do
			hosts+="${hosts:+ }$(printf 'web%03d' "$i")"
		done
		argv=(parallel-ssh -P -p "$fanout" -x "-F $cfg$jump" -H "$hosts" ${sudo:+sudo -n})
		;;
	esac
}

# check TOOL N CMD RC LOGINS: fail loudly unless the run in $out/$err did it all.
check() {
	local tool=$1 n=$2 cmd=$3 rc=$4 logins=$5 want_logins=$6
	local why='' body status lines hosts
	if [[ $tool == pssh ]]; then
		status=$(grep -cE '^\[[0-9]+\] [0-9:]+ \[(SUCCESS|FAILURE)\] ' "$out" || true)
		hosts=$(grep -E '^\[[0-9]+\] [0-9:]+ \[SUCCESS\] web[0-9]{3}$' "$out" | awk '{print $4}' | sort -u | wc -l)
		((status == n && hosts == n)) || why+=" $hosts of $n [SUCCESS] lines ($status status lines);"
		body=$(grep -vE '^\[[0-9]+\] [0-9:]+ \[(SUCCESS|FAILURE)\] ' "$out" || true)
	else
		body=$(<"$out")
	fi
	lines=$(printf '%s' "$body" | grep -c '' || true)
	((rc == 0)) || why+=" exit status $rc;"
	[[ ! -s $err ]] || why+=" $(wc -l <"$err") lines on stderr;"
	if [[ $cmd == true ]]; then
		((lines == 0)) || why+=" $lines output lines, want 0;"
	else
		# Through sudo, mitogen-run labels a line with its whole chain.
		hosts=$(printf '%s\n' "$body" | grep -E '^([^ ]*web[0-9]{3}[^ ]*): Linux ' | sed 's/: Linux .*//' | sort -u | wc -l)
		((lines == n && hosts == n)) || why+=" $lines output lines from $hosts targets, want $n;"
	fi
	((logins == want_logins)) || why+=" sshd logged $logins logins, want $want_logins;"
	if [[ -n $why ]]; then
		{
			echo "bench: FAILED: $tool N=$n '$cmd':$why"
			printf '  PDSH_SSH_ARGS=%q' "$pdsh_args"
			printf ' %q' "${argv[@]}" "$cmd"
			echo
			echo "  -- stdout (head):"; head -5 "$out"
			echo "  -- stderr (head):"; head -10 "$err"
		} >&2
		exit 1
	fi
}

# once TOOL N CMD [bastion]: one checked run; sets ms (wall time in ms).
once() {
	local tool=$1 n=$2 cmd=$3 via=${4:-}
	local t0 t1 a0 a1 rc=0 want=$2
	tool_argv "$tool" "$n" "$via"
	if [[ -n $via ]]; then
		[[ $tool == mitogen-run ]] && want=$((n + 1)) || want=$((2 * n))
	fi
	a0=$(accepted)
	t0=$(date +%s%N)
	PDSH_SSH_ARGS=$pdsh_args ${near[@]+"${near[@]}"} "${argv[@]}" "$cmd" </dev/null >"$out" 2>"$err" || rc=$?
	t1=$(date +%s%N)
	a1=$(accepted)
	check "$tool" "$n" "$cmd" "$rc" $((a1 - a0)) "$want"
	ms=$(((t1 - t0) / 1000000))
}

median() { # numbers...
	printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.0f\n", m}'
}

tools=(mitogen-run pdsh clush pssh)
declare -A label=([mitogen-run]=mitogen-run [pdsh]=pdsh [clush]=clush [pssh]=parallel-ssh)
declare -A blabel=([mitogen-run]="mitogen-run bastion/web" [pdsh]="pdsh ssh -J bastion"
	[clush]="clush ssh -J bastion" [pssh]="parallel-ssh ssh -J bastion")

# group N CMD [bastion]: RUNS interleaved rounds of every tool, then
# the rows of the table.
group() {
	local n=$1 cmd=$2 via=${3:-}
	local r k tool
	declare -A t=()
	for ((r = 0; r < runs; r++)); do
		for ((k = 0; k < ${#tools[@]}; k++)); do
			tool=${tools[(k + r) % ${#tools[@]}]}
			once "$tool" "$n" "$cmd" "$via"
			t[$tool]+=" $ms"
		done
	done
	declare -A med=()
	local best=
	for tool in "${tools[@]}"; do
		# shellcheck disable=SC2086
		med[$tool]=$(median ${t[$tool]})
		if [[ $tool != mitogen-run ]] && [[ -z $best || ${med[$tool]} -lt ${med[$best]} ]]; then
			best=$tool
		fi
	done
	for tool in "${tools[@]}"; do
		local name=${label[$tool]}
		[[ -z $via ]] || name=${blabel[$tool]}
		printf '%-30s %4s  %-9s %8s  %6.2fx %-13s %s\n' "$name" "$n" "$cmd" "${med[$tool]}" \
			"$(echo "${med[$tool]} / ${med[$best]}" | bc -l)" "${label[$best]}" "${t[$tool]# }"
	done
	echo
}

# hwm TOOL N CMD: one checked run while the VmHWM of the tool's own process
# (not its ssh children) is sampled; prints it in KiB.
hwm() {
	local tool=$1 n=$2 cmd=$3
	local pid rc=0 a0 a1 h v
	tool_argv "$tool" "$n"
	a0=$(accepted)
	PDSH_SSH_ARGS=$pdsh_args ${near[@]+"${near[@]}"} "${argv[@]}" "$cmd" </dev/null >"$out" 2>"$err" &
	pid=$! # taskset execs the tool: the same process
	h=0
	while v=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$pid/status" 2>/dev/null); do
		[[ -z $v ]] || h=$v
		[[ -n $v ]] || break # a zombie: its memory is gone
		sleep 0.005
	done
	wait "$pid" || rc=$?
	a1=$(accepted)
	check "$tool" "$n" "$cmd" "$rc" $((a1 - a0)) "$n"
	echo "$h"
}

echo "== fan-out over ssh to 127.0.0.1:$port, -f/-p $fanout, median of $runs runs, wall ms"
echo "   $(nproc) CPUs; $(ssh -V 2>&1); sshd MaxStartups $maxstartups, $rcfiles"
echo "   $("$run" --version 2>&1 | head -1); $(pdsh -V 2>&1 | head -1); clush $(clush --version 2>&1 | awk '{print $2}'); parallel-ssh $(parallel-ssh --version 2>&1)"
[[ -z $far_cpus ]] || echo "   far ends (the sshd) pinned to CPU $far_cpus, each tool and all it starts to CPU $near_cpus"
echo "   client config: $cfg (web001..web100, bastion: HostName 127.0.0.1 Port $port; StrictHostKeyChecking yes)"
echo

for tool in "${tools[@]}"; do # warm-up, checked, not timed
	once "$tool" 10 true
done

printf '%-30s %4s  %-9s %8s  %7s %-13s %s\n' tool N cmd "median" "ratio" "fastest peer" "runs (ms)"
for n in $ns; do
	for cmd in true "uname -a"; do
		group "$n" "$cmd"
	done
done
if ((bastion_n > 0)); then
	echo "-- via bastion (ssh:bastion/ssh:web[001-$(printf %03d "$bastion_n")] vs ssh -J bastion)"
	for cmd in true "uname -a"; do
		group "$bastion_n" "$cmd" bastion
	done
fi

echo "== peak RSS of the tool's own process at N=100, 'uname -a' (VmHWM sampled every 5 ms; ssh children not counted)"
for tool in "${tools[@]}"; do
	kib=$(hwm "$tool" 100 "uname -a") # an assignment: a failed check stops the script
	printf '%-30s %8s KiB\n' "${label[$tool]}" "$kib"
done

# cpu TOOL N CMD: one checked run under cpu-reap.py; sets cpu_self,
# cpu_all (the tool and every process it started) and cpu_far (what the
# sshd listener reaped meanwhile: its sessions, with all they ran), in ms
# per target.
sshd_pid=$(<"$d/sshd.pid")
sshd_ticks() { # cutime + cstime of the listener (proc(5) fields 16, 17)
	awk '{sub(/.*\) /, ""); print $14 + $15}' "/proc/$sshd_pid/stat"
}
cpu() {
	local tool=$1 n=$2 cmd=$3
	local rc=0 a0 a1 f0 f1 i own all hz
	hz=$(getconf CLK_TCK)
	tool_argv "$tool" "$n"
	a0=$(accepted)
	f0=$(sshd_ticks)
	PDSH_SSH_ARGS=$pdsh_args ${near[@]+"${near[@]}"} python3 "$here/cpu-reap.py" "$d/cpu" "${argv[@]}" "$cmd" \
		</dev/null >"$out" 2>"$err" || rc=$?
	# The sessions end once their clients have: wait until the listener
	# has reaped every one.
	for ((i = 0; i < 500; i++)); do
		[[ -n $(pgrep -P "$sshd_pid") ]] || break
		sleep 0.02
	done
	f1=$(sshd_ticks)
	a1=$(accepted)
	check "$tool" "$n" "$cmd" "$rc" $((a1 - a0)) "$n"
	read -r own all <"$d/cpu"
	cpu_self=$(echo "$own / $n" | bc -l)
	cpu_all=$(echo "$all / $n" | bc -l)
	cpu_far=$(echo "($f1 - $f0) * 1000 / $hz / $n" | bc -l)
}

if ((cpu_n > 0)); then
	echo
	echo "== CPU per target at N=$cpu_n, 'true', ms, median of $runs runs: the tool's own process;"
	echo "   with every process it started (ssh...); on the far end (sshd's sessions and what they ran)"
	printf '%-30s %8s %12s %10s %8s\n' tool own "+children" "far end" total
	declare -A c_self=() c_all=() c_far=()
	for ((r = 0; r < runs; r++)); do
		for ((k = 0; k < ${#tools[@]}; k++)); do
			tool=${tools[(k + r) % ${#tools[@]}]}
			cpu "$tool" "$cpu_n" true
			c_self[$tool]+=" $cpu_self"
			c_all[$tool]+=" $cpu_all"
			c_far[$tool]+=" $cpu_far"
		done
	done
	fmed() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f\n", m}'; }
	for tool in "${tools[@]}"; do
		# shellcheck disable=SC2086
		s1=$(fmed ${c_self[$tool]}) s2=$(fmed ${c_all[$tool]}) s3=$(fmed ${c_far[$tool]})
		printf '%-30s %8s %12s %10s %8.1f\n' "${label[$tool]}" "$s1" "$s2" "$s3" "$(echo "$s2 + $s3" | bc -l)"
	done
fi

# The same run sampled machine-wide (perf record -a, cpu-clock at 1 kHz:
# a sample is 1 ms of CPU), by process name: where the CPU of one target
# goes, near and far, for each tool. Names are the kernel's comm (15
# bytes): an agent shows as "mitogen:1", its stub as ".mitogen-agent.",
# the inflated agent as "memfd:mitogen-a".
if ((perf_n > 0)); then
	command -v perf >/dev/null || { echo "bench: PERF_N needs perf (apt-get install linux-perf)" >&2; exit 1; }
	echo
	echo "== CPU per target at N=$perf_n, 'true', ms, by process name (perf record -a, one run each)"
	pdir=$d/perf
	mkdir -p "$pdir"
	for tool in "${tools[@]}"; do
		tool_argv "$tool" "$perf_n"
		a0=$(accepted)
		rc=0
		PDSH_SSH_ARGS=$pdsh_args perf record -q -a -F 1000 -e cpu-clock -o "$pdir/$tool.data" -- \
			${near[@]+"${near[@]}"} "${argv[@]}" true </dev/null >"$out" 2>"$err" || rc=$?
		a1=$(accepted)
		check "$tool" "$perf_n" true "$rc" $((a1 - a0)) "$perf_n"
		perf report -i "$pdir/$tool.data" --sort comm --stdio -n 2>/dev/null |
			awk -v t="$tool" '$1 ~ /%$/ && $2 ~ /^[0-9]+$/ {c = $3; for (i = 4; i <= NF; i++) c = c " " $i; print t "\t" c "\t" $2}'
	done >"$pdir/samples"
	python3 - "$pdir/samples" "$perf_n" "${tools[@]}" <<'EOF'
import sys
path, n, tools = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
ms = {}
for line in open(path):
    tool, comm, samples = line.rstrip("\n").split("\t")
    ms.setdefault(comm, {})[tool] = ms.get(comm, {}).get(tool, 0) + int(samples) / n
idle = {"swapper"}
rows = sorted((c for c in ms if c not in idle), key=lambda c: -max(ms[c].values()))
print("%-16s" % "process" + "".join("%14s" % t for t in tools))
shown = [c for c in rows if max(ms[c].values()) >= 0.5]
for c in shown:
    print("%-16s" % c[:16] + "".join("%14.1f" % ms[c].get(t, 0) for t in tools))
print("%-16s" % "(the rest)" + "".join(
    "%14.1f" % sum(ms[c].get(t, 0) for c in rows if c not in shown) for t in tools))
print("%-16s" % "total" + "".join("%14.1f" % sum(ms[c].get(t, 0) for c in rows) for t in tools))
EOF
fi
