#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr: set by run_mg_sep
#
# mitogen-exec and the program store against hostile input (issue 12):
# a PROGRAM that is no regular file, and a hop that floods its parent
# with FETCH requests beside a healthy sibling.

load helpers
load sshd # mg_pct

@test "a FIFO as PROGRAM is refused at once, not read" {
    mkfifo "$MG_TMP/fifo"
    # Opening a FIFO for reading waits for a writer: that must not happen.
    MG_TIMEOUT=10 run_mg_sep 255 mitogen-exec local -- "$MG_TMP/fifo"
    assert "$stderr" == "mitogen-exec: $MG_TMP/fifo: not a program (empty or not a regular file)" \
        "one clear line, as for any file that is not a program"
    MG_TIMEOUT=10 run_mg_sep 255 mitogen-exec local -- "$MG_TMP"
    assert "$stderr" =~ "not a program" "a directory too"
}

@test "hostile: a FETCH flood from one hop; its sibling gets the program, the agent's descriptors stay bounded" {
    local evil log first max sent answered
    printf '#!/bin/sh\necho ok\n' >"$MG_TMP/ok.sh"
    chmod 755 "$MG_TMP/ok.sh"
    evil=$(mg_pct "$MG_SRC_DIR/tests/stubs/hostile/docker-fetch-flood")
    log=$MG_TMP/fetch.log
    MG_FETCH_LOG=$log run_mg_sep mitogen-exec -w "local/docker:evil?docker_path=$evil" \
        -w local/local -- "$MG_TMP/ok.sh"
    assert "$output" == "local+local: ok" "the healthy sibling fetched and ran the program"
    assert "$stderr" !~ "AddressSanitizer|runtime error" "no sanitizer report"
    cat "$log"
    assert "$(cat "$log")" =~ "up [0-9]+ ppid [0-9]+ comm mitogen" "the flood's parent is the shared agent"
    read -r _ first max < <(grep '^fds ' "$log")
    # Bounded: the flood may hold MG_FETCH_PER_CHILD (8) transfers, and the
    # sibling's connection a few more while it boots (a loaded machine
    # stretches that); a leak would be thousands.
    assert "$((max - first))" -le 24 "the agent's descriptors stay bounded (from $first to $max)"
    read -r _ sent answered _ < <(grep '^answers ' "$log")
    assert "$answered" == "$sent" "every request was answered, none dropped or left hanging"
    assert "$(cat "$log")" =~ "no_such_program=" "unknown ids: no such program"
    assert "$(cat "$log")" =~ "too_many_program_fetches_at_once=" "past its share: refused"
    assert "$(cat "$log")" =~ "exec" "the run reached the flooding hop's own command"
}
