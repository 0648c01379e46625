# -*- bash -*-
# Shared by the benchmarks that talk to a private sshd: source it after
# setting 'here' (this directory). Needs root and openssh-server.
#
#   bench_build DIR  $build (DIR made absolute) and $run, its mitogen-run;
#                    MITOGEN_AGENT and MITOGEN_CONNECT from it unless set
#                    (as an installed mitogen-run finds them)
#   bench_sshd       start the sshd of tests/cli/sshd.bash on 127.0.0.1,
#                    stopped on exit; it sets "SetEnv SHLVL=1" unless
#                    KEEP_RC=1, so that bash does not read root's
#                    ~/.bashrc for each command of an ssh session (here
#                    `pyenv init`, ~300 ms of noise for every tool alike);
#                    BENCH_SSHD_CONF: more sshd_config lines, for which
#                    it is restarted
#   median_ms N CMD  the median wall time of N runs of CMD, in ms
#   once_us CMD      one checked run of CMD 0.3 s after the last, for
#                    runs of several forms interleaved: its wall time in us
#   median_us US...  the median of such times, in ms
#   rtt_row LABEL MS BASE RTT  a line: LABEL, MS, its ratio to BASE and
#                    the difference in round trips of RTT ms
#   group TITLE LABEL CMD... ";;" LABEL CMD... ";;" ...  $runs rounds
#                    of the forms in turn (once_us), then a line per form
#                    by the script's group_row LABEL MS BASE_MS, the first
#                    form's median the base
#   wan_config RTT MBIT  after bench_sshd: $wan_cfg, an ssh config whose
#                    one alias, wan1, reaches that sshd through the WAN
#                    relay (MG_WAN_RELAY, else ../shared/bench/wan-relay.py)
#                    at RTT ms and MBIT Mbit/s; exits when there is none
#   agent_sizes      a line per agent of $MITOGEN_AGENT (whole, exec-only,
#                    leaf): its bytes packed (what a first hop gets on the
#                    wire) and plain, "-" for a file the build lacks
#
# A script that starts more (a holder, a ControlMaster) defines
# bench_cleanup, which runs on exit before the sshd is stopped.

BATS_FILE_TMPDIR=$(mktemp -d)
export BATS_FILE_TMPDIR
skip() { echo "bench: $*" >&2; exit 1; }
is_root() { [[ $(id -u) -eq 0 ]]; }
# shellcheck source=../cli/sshd.bash
source "$here/../cli/sshd.bash"

bench_exit() {
	if declare -F bench_cleanup >/dev/null; then
		bench_cleanup
	fi
	stop_sshd
	rm -rf "$BATS_FILE_TMPDIR"
}

bench_build() {
	build=$(cd "$1" && pwd) || exit 1
	run=$build/cmd/mitogen-run
	export MITOGEN_AGENT=${MITOGEN_AGENT:-$build/cmd/mitogen-agent}
	export MITOGEN_CONNECT=${MITOGEN_CONNECT-$build/cmd/mitogen-connect}
}

bench_sshd() {
	local pid i
	trap bench_exit EXIT
	start_sshd
	[[ -z ${MG_SSHD_SKIP:-} ]] || skip "$MG_SSHD_SKIP"
	[[ -n ${BENCH_SSHD_CONF:-} ]] || return 0
	pid=$(<"$MG_SSHD_DIR/sshd.pid")
	stop_sshd
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	printf '%s\n' "$BENCH_SSHD_CONF" >>"$MG_SSHD_DIR/sshd_config"
	_mg_sshd_launch || skip "sshd did not restart: $(tail -3 "$MG_SSHD_DIR/sshd.log")"
}

median_ms() {
	local n=$1 i t0 t1
	shift
	for ((i = 0; i < n; i++)); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000))
	done | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f\n", m/1000}'
}

once_us() {
	local t0 t1
	sleep 0.3
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))
}

median_us() {
	printf '%s\n' "$@" | sort -n |
		awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f\n", m/1000}'
}

rtt_row() {
	printf '%-44s %8s ms  (%.3fx, %+.2f round trips)\n' "$1" "$2" \
		"$(echo "$2 / $3" | bc -l)" "$(echo "($2 - $3) / $4" | bc -l)"
}

agent_sizes() {
	local a
	for a in "$MITOGEN_AGENT" "$MITOGEN_AGENT-lite" "$MITOGEN_AGENT-leaf"; do
		printf '   %-20s %8s packed, %8s plain\n' "${a##*/}" \
			"$(stat -L -c %s "$a" 2>/dev/null || echo -)" "$(stat -L -c %s "$a.raw" 2>/dev/null || echo -)"
	done
}

wan_config() {
	local rtt=$1 mbit=$2 relay=${MG_WAN_RELAY:-} r
	for r in "$relay" /work/shared/bench/wan-relay.py "$here/../../../shared/bench/wan-relay.py"; do
		if [[ -n $r && -f $r ]]; then
			relay=$r
			break
		fi
	done
	[[ -f $relay ]] || { echo "bench: no wan-relay.py (set MG_WAN_RELAY)" >&2; exit 1; }
	# One alias, wan1, read by ssh and by mitogen-run's ssh alike.
	wan_cfg=$BATS_FILE_TMPDIR/wan_config
	{
		printf 'Host wan1\n  HostName 127.0.0.1\n  Port %s\n' "$MG_SSH_PORT"
		printf '  HostKeyAlias [127.0.0.1]:%s\n' "$MG_SSH_PORT"
		printf '  ProxyCommand /usr/bin/python3 %s 127.0.0.1 %s %s %s\n' "$relay" "$MG_SSH_PORT" "$rtt" "$mbit"
		cat "$MG_SSH_CONFIG"
	} >"$wan_cfg"
}

group() {
	local title=$1 i k n=0
	local -a labels=() cmds=() form=()
	shift
	while (($# > 0)); do
		labels[n]=$1
		shift
		form=()
		while (($# > 0)) && [[ $1 != ";;" ]]; do
			form+=("$1")
			shift
		done
		(($# == 0)) || shift
		cmds[n]=$(printf '%q ' "${form[@]}")
		n=$((n + 1))
	done
	local -a times=()
	for ((i = 0; i < runs; i++)); do
		for ((k = 0; k < n; k++)); do
			times[k]+="$(eval "once_us ${cmds[k]}") "
		done
	done
	echo "== $title (median of $runs rounds)"
	local base
	# shellcheck disable=SC2086 # the times, one word each
	base=$(median_us ${times[0]})
	for ((k = 0; k < n; k++)); do
		# shellcheck disable=SC2086
		group_row "${labels[k]}" "$(median_us ${times[k]})" "$base"
	done
}
