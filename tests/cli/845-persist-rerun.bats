#!/usr/bin/env bats
# -*- bats -*-
#
# Everything a command does is the same with MITOGEN_PERSIST: run the
# command test files again with it set (and a private XDG_RUNTIME_DIR, so
# the holder is this test's), then stop that holder. The few tests that
# look at the hops themselves (their ids, their log, that they go with the
# command) skip under MITOGEN_PERSIST and say why.

load helpers

function setup() {
    basic_setup
    export XDG_RUNTIME_DIR=$MG_TMP/xdg
    mkdir -m 700 "$XDG_RUNTIME_DIR"
    export MITOGEN_PERSIST=10m
}

function teardown() {
    local pid
    pid=$(mitogen-run --persist-list 2>/dev/null | sed -n 's/^holder pid \([0-9]*\),.*/\1/p')
    if [[ -n $pid ]]; then
        kill "$pid" 2>/dev/null || true
    fi
    basic_teardown
}

# The longest two files run again only in a real build: under a sanitizer
# their second run cost more CI time than all the rest of this file, and
# what they add (signals, files) passes through the holder's code that
# 010 and 600 already drive.
function not_under_sanitizer() {
    if [[ ${MG_SANITIZE:-none} != none ]]; then
        skip "$1 runs again with MITOGEN_PERSIST in a build without sanitizers"
    fi
}

# Run test file $1 with MITOGEN_PERSIST set; it must pass, through one holder.
function rerun() {
    local file=$MG_SRC_DIR/tests/cli/$1 rc=0
    bats --tap "$file" >"$MG_TMP/tap" 2>&1 3>&- || rc=$?
    cat "$MG_TMP/tap"
    assert "$rc" == 0 "$1 passes with MITOGEN_PERSIST set"
    run grep -c '^ok .* # skip' "$MG_TMP/tap"
    echo "skipped: $output"
    run_mg mitogen-run --persist-list
    assert "${lines[0]}" =~ "^holder pid [0-9]+," "the commands went through a holder"
}

@test "010-run-basic.bats with MITOGEN_PERSIST" {
    rerun 010-run-basic.bats
}

@test "030-run-signals.bats with MITOGEN_PERSIST" {
    not_under_sanitizer 030-run-signals.bats
    rerun 030-run-signals.bats
}

@test "600-exec.bats with MITOGEN_PERSIST" {
    rerun 600-exec.bats
}

@test "900-cp.bats with MITOGEN_PERSIST" {
    # Its second run was this file's half (100 s of 212 in CI), and CI's
    # 30 minutes ran short: MG_RERUN_LONG=1 runs it again.
    if [[ ${MG_RERUN_LONG:-} != 1 ]]; then
        skip "900-cp.bats runs again with MITOGEN_PERSIST only with MG_RERUN_LONG=1"
    fi
    not_under_sanitizer 900-cp.bats
    rerun 900-cp.bats
}
