#!/bin/bash
# Many targets behind one gateway (issue 13, item 9): the wall time per
# target of
#
#   mitogen-run -f F -w 'local/docker:e[1-N]' true
#
# for N in $NS (default 100 1000 3000), best of RUNS (default 3), F = $FANOUT
# (64). The docker hops are the stub of tests/stubs (it boots the agent
# right here), so what is measured is the master's and the gateway's work
# per hop, window included: it should not grow with N.
#
#   tests/bench/bench-gateway.sh [BUILD_DIR] [RUNS]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
runs=${2:-3}
ns=${NS:-100 1000 3000}
fanout=${FANOUT:-64}
export PATH=$here/../stubs:$PATH

printf '%-6s %10s %14s\n' N 'best (s)' 'ms per target'
for n in $ns; do
    best=
    for ((i = 0; i < runs; i++)); do
        t0=$(date +%s%N)
        "$build/cmd/mitogen-run" -n -f "$fanout" -w "local/docker:e[1-$n]" true >/dev/null
        t=$((($(date +%s%N) - t0) / 1000000))
        if [[ -z $best ]] || ((t < best)); then best=$t; fi
    done
    awk -v n="$n" -v t="$best" 'BEGIN { printf "%-6d %10.2f %14.3f\n", n, t / 1000, t / n }'
done
