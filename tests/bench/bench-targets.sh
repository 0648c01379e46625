#!/bin/bash
# Building the target list (issue 13, item 8): the time and peak RSS of
#
#   mitogen-run --dry-run -w 'ssh:n[1-N]' true                 (N targets)
#   mitogen-run --dry-run -w 'ssh:n[1-N]' -x 'ssh:n[1-N/2]' true
#   nodeset -e 'n[1-N]'   and   nodeset -e 'n[1-N]!n[1-N/2]'  (ClusterShell,
#                                               if installed: clustershell)
#
# for N in $NS (default 1000 10000 100000), best of RUNS (default 3). The
# dry run prints every hop's command (about 950 bytes a target), nodeset
# only the names: nodeset is the yardstick for "near-linear", not a peer.
#
#   tests/bench/bench-targets.sh [BUILD_DIR] [RUNS]
set -eu

build=$(cd "${1:-build}" && pwd)
runs=${2:-3}
ns=${NS:-1000 10000 100000}
run=$build/cmd/mitogen-run
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# Best wall time (s) and its peak RSS (KiB) of RUNS runs of "$@".
best() {
    local i t rss best_t= best_rss=
    for ((i = 0; i < runs; i++)); do
        /usr/bin/time -o "$tmp" -f '%e %M' "$@" >/dev/null 2>&1
        read -r t rss < <(tail -1 "$tmp")
        if [[ -z $best_t ]] || awk -v a="$t" -v b="$best_t" 'BEGIN { exit !(a < b) }'; then
            best_t=$t best_rss=$rss
        fi
    done
    printf '%8s s %8s KiB' "$best_t" "$best_rss"
}

printf '%-8s %-28s %-28s %-22s %-22s\n' N 'mitogen-run --dry-run' '... -x half' 'nodeset -e' 'nodeset -e, ! half'
for n in $ns; do
    half=$((n / 2))
    printf '%-8s %s   %s' "$n" "$(best "$run" --dry-run -w "ssh:n[1-$n]" true)" \
        "$(best "$run" --dry-run -w "ssh:n[1-$n]" -x "ssh:n[1-$half]" true)"
    if command -v nodeset >/dev/null; then
        printf '   %s   %s' "$(best nodeset -e "n[1-$n]")" "$(best nodeset -e "n[1-$n]!n[1-$half]")"
    fi
    printf '\n'
done
