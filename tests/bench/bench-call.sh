#!/bin/bash
# Calls of a no-op service on one context (issue 7's benchmark): ours
# ("echo", served by every agent) against Python mitogen's call and
# call_async (python3-mitogen, a no-op function), on a `local` context and,
# on an `ssh` one to 127.0.0.1, in the same run: the test sshd given by its
# port and client config, or else (as root, with openssh-server) a private
# one started here as the CLI tests do (MG_BENCH_SSH=0: no ssh row).
#
#   tests/bench/bench-call.sh [BUILD_DIR] [SSH_PORT SSH_CONFIG]
#
# bench-call is built here from tests/bench/bench-call.c against the
# build's library (nothing is installed).
set -eu

build=${1:-build}
port=${2:-}
config=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
export MITOGEN_AGENT=${MITOGEN_AGENT:-$build/cmd/mitogen-agent}
bin=$build/bench-call
cc ${CFLAGS:--O2} -o "$bin" "$here/bench-call.c" -I"$here/../../lib/include" \
	$(pkg-config --cflags talloc) -L"$build/lib" -lmitogen $(pkg-config --libs talloc) \
	-Wl,-rpath,"$(cd "$build/lib" && pwd)"

run_both() { # OUR_CHAIN PY_TARGET
	echo "== mitogen-c, $1"
	"$bin" "$1" 10000 100000 1000
	if /usr/bin/python3 -c "import mitogen" 2>/dev/null; then
		echo "== Python mitogen, $2"
		/usr/bin/python3 "$here/mitogen_call.py" "$2" 2000 20000 1000
	else
		echo "== Python mitogen: not installed (apt-get install python3-mitogen)"
	fi
}

if [[ -z $port && ${MG_BENCH_SSH:-1} != 0 && $(id -u) -eq 0 ]]; then
	# sshd.bash is written for bats; give it what it expects.
	BATS_FILE_TMPDIR=$(mktemp -d)
	export BATS_FILE_TMPDIR
	skip() { MG_SSHD_SKIP=$*; }
	is_root() { [[ $(id -u) -eq 0 ]]; }
	# shellcheck source=../cli/sshd.bash
	source "$here/../cli/sshd.bash"
	trap 'stop_sshd; rm -rf "$BATS_FILE_TMPDIR"' EXIT
	start_sshd
	if [[ -z ${MG_SSHD_SKIP:-} ]]; then
		port=$MG_SSH_PORT
		config=$MG_SSH_CONFIG
	else
		echo "== ssh: no private sshd ($MG_SSHD_SKIP)"
	fi
fi

run_both local local
if [[ -n $port && -n $config ]]; then
	run_both "ssh:127.0.0.1:$port?ssh_args=-F%20$(printf %s "$config" | sed 's,/,%2F,g')" \
		"ssh:127.0.0.1:$port:$config"
fi
