#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# Options every method takes: connect_timeout, remote_name, debug.

load helpers

function setup() {
    basic_setup
}

function teardown() {
    basic_teardown
}

@test "remote_name names the hop's agent process; others keep mitogen:N" {
    run_mg mitogen-run 'local?remote_name=mg-edge/local' -- \
        sh -c 'cat /proc/$PPID/comm; cat /proc/$(sed -n "s/^PPid:[[:space:]]*//p" /proc/$PPID/status)/comm'
    assert "${lines[0]}" == "mitogen:2" "hop 2 keeps its default name"
    assert "${lines[1]}" == "mg-edge" "hop 1 is called what remote_name says"
}

@test "debug=1 shows that hop's agent log without -v, and only that hop's" {
    run_mg_sep mitogen-run 'local/local?debug=1' -- true
    assert "$stderr" =~ "local/local\\?debug=1: started [^ ]*sh" "the debug hop's lines are shown"
    assert "$stderr" !~ "(^|$'\n')mitogen-run: local: " "hop 1 stays quiet"

    run_mg_sep 2 mitogen-run 'local?debug=maybe' -- true
    assert "$stderr" =~ "column 7: option debug: expected yes or no" "a bad value: the chain is refused, and says why"
}

@test "connect_timeout on a hop overrides -t for that hop" {
    local t0 t1 pid
    # The stub sleeps this long once "up": a number no other process uses,
    # so a stub left behind is found, and only this test's is stopped.
    local nap=7.$RANDOM$RANDOM
    t0=$(date +%s%N)
    MITOGEN_AGENT=$MG_SRC_DIR/tests/stubs/agent-silent MG_STUB_SLEEP=$nap \
        run_mg_sep 255 mitogen-run -t 30 'local?connect_timeout=0.5' -- true
    t1=$(date +%s%N)
    for pid in $(pgrep -f -x -- "sleep $nap"); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    assert "$stderr" =~ "local\\?connect_timeout=0.5: connect timed out" "the hop timed out"
    if (((t1 - t0) / 1000000 > 4000)); then
        die "took $(((t1 - t0) / 1000000)) ms: connect_timeout=0.5 was not applied"
    fi

    run_mg_sep 2 mitogen-run 'local?connect_timeout=soon' -- true
    assert "$stderr" =~ "column 7: option connect_timeout: expected seconds from 0.001 to 86400.*not 'soon'" "a bad value is an error"
}
