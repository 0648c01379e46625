#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# Bulk byte streams (issue 11, item 3): a command's stdin and stdout move
# by splice(2) through pipe tails (docs/PROTOCOL.md section 7). Whatever
# path the bytes take, they arrive exact, in order, and in bounded memory;
# speed belongs in tests/bench/bench-stream.sh. These local chains would
# hand the command our own stdio (545-stdio-pass.bats): --relay-stdio
# keeps the bytes on the relayed path that any chain with an ssh hop
# takes.

load helpers

# A sanitizer build's shadow memory and quarantine make RSS meaningless:
# its bound only catches a runaway.
if [[ ${MG_SANITIZE:-none} == none ]]; then
    RSS_MAX_KB=65536
else
    RSS_MAX_KB=1048576
fi

function setup() {
    basic_setup
    [[ -x /usr/bin/time ]] || skip "needs /usr/bin/time (Debian: time)"
}

function teardown() {
    basic_teardown
}

# The pattern: 35,000,000 numbered lines, 303,888,897 bytes (no run of
# zeros: a lost, doubled or moved page changes the sum).
function pattern() {
    seq 1 35000000
}

@test "300 MB through local/local -- cat arrives byte-exact, every process in bounded memory" {
    local want got
    want=$(pattern | sha256sum)
    # The command's shell reports the VmHWM of its agent and of that
    # agent's parent (the first hop) once cat has seen end of file.
    pattern | timeout "$(mg_secs 120)" /usr/bin/time -o "$MG_TMP/time" -f %M \
        mitogen-run --relay-stdio local/local -- sh -c 'cat; for p in $PPID $(cut -d" " -f4 /proc/$PPID/stat); do
            awk "/VmHWM/ {print \$2}" /proc/$p/status; done >&2' \
        2>"$MG_TMP/err" | sha256sum >"$MG_TMP/sum"
    got=$(cat "$MG_TMP/sum")
    assert "$got" == "$want" "sha256 of what came out"
    local master agents
    master=$(tail -n1 "$MG_TMP/time")
    mapfile -t agents <"$MG_TMP/err"
    assert "${#agents[@]}" -eq 2 "two agents reported their peak RSS: ${agents[*]}"
    # Generous safety limits (KiB): the bench reports the real figures.
    echo "[ peak RSS (KiB): master $master, last agent ${agents[0]}, first ${agents[1]} ]"
    assert "$master" -lt "$RSS_MAX_KB" "master's peak RSS ${master} KiB"
    assert "${agents[0]}" -lt "$RSS_MAX_KB" "last agent's peak RSS ${agents[0]} KiB"
    assert "${agents[1]}" -lt "$RSS_MAX_KB" "first agent's peak RSS ${agents[1]} KiB"
}

@test "stdin from a file, stdout to a file, three hops: exact" {
    local want got
    pattern | head -c 50000000 >"$MG_TMP/in"
    timeout "$(mg_secs 60)" mitogen-run --relay-stdio local/local/local -- cat <"$MG_TMP/in" >"$MG_TMP/out"
    cmp "$MG_TMP/in" "$MG_TMP/out"
    # And from a pipe to a pipe, through a command that changes the bytes.
    want=$(tr 0-9 a-j <"$MG_TMP/in" | sha256sum)
    got=$(cat "$MG_TMP/in" | timeout "$(mg_secs 60)" mitogen-run --relay-stdio local/local -- tr 0-9 a-j |
        sha256sum)
    assert "$got" == "$want" "tr's output, hashed"
}

@test "stdout and stderr both in bulk stay apart and whole" {
    pattern | head -c 20000000 >"$MG_TMP/in"
    timeout "$(mg_secs 60)" mitogen-run --relay-stdio local/local -- sh -c 'tee /dev/stderr' \
        <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err"
    cmp "$MG_TMP/in" "$MG_TMP/out"
    cmp "$MG_TMP/in" "$MG_TMP/err"
}

@test "a command that stops reading stdin early ends the run with its own status" {
    local rc=0
    head -c 200000000 /dev/zero | timeout "$(mg_secs 30)" \
        mitogen-run --relay-stdio local/local -- sh -c 'head -c 100000 | wc -c; exit 7' >"$MG_TMP/out" || rc=$?
    assert "$rc" -eq 7 "the command's exit status"
    assert "$(cat "$MG_TMP/out")" == "100000" "what the command read"
}
