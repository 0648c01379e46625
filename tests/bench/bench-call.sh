#!/bin/bash
# Calls of a no-op service on one context (issue 7's benchmark): ours
# ("echo", served by every agent) against Python mitogen's call and
# call_async (python3-mitogen, a no-op function), on a `local` context and,
# when given the test sshd's port and client config, an `ssh` one, in the
# same run.
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

run_both local local
if [[ -n $port && -n $config ]]; then
	run_both "ssh:127.0.0.1:$port?ssh_args=-F%20$(printf %s "$config" | sed 's,/,%2F,g')" \
		"ssh:127.0.0.1:$port:$config"
fi
