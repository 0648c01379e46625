#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr: set by run_mg_sep
#
# Hostile hops (issue 12): a hop that speaks the protocol to harm its
# parent or its siblings. Each is a stub in tests/stubs/hostile/, started
# through a docker_path stand-in beside healthy targets, over local chains
# and over the test sshd. The healthy targets must succeed, the hostile one
# must fail with an error naming it, and nothing meant for another context
# may ever reach it.

load helpers
load sshd
load users

function setup_file() {
    export BATS_NO_PARALLELIZE_WITHIN_FILE=true
    start_sshd
    setup_users
}

function teardown_file() {
    teardown_users
    stop_sshd
}

# hostile_standin NAME STUB: a docker_path stand-in in $MG_TMP that runs
# tests/stubs/hostile/STUB with its record in $MG_TMP/NAME.log (a file
# path, not the environment, so that it also works behind ssh).
function hostile_standin() {
    local name=$1 stub=$2
    cat >"$MG_TMP/$name" <<EOS
#!/bin/sh
MG_HOSTILE_LOG='$MG_TMP/$name.log' exec python3 '$MG_SRC_DIR/tests/stubs/hostile/$stub' "\$@"
EOS
    chmod 755 "$MG_TMP" "$MG_TMP/$name"
    printf '%s\n' "$MG_TMP/$name"
}

# hex STRING: the bytes of STRING in lower-case hex, as the stub logs them.
function hex() {
    printf '%s' "$1" | od -An -tx1 | tr -d ' \n'
}

# take_over PREFIX: a hijacker and a slow victim (with a password for its
# last hop) behind the one agent PREFIX; the victim must run, the
# hijacker must be dropped before it sees anything of the victim's.
function take_over() {
    local prefix=$1 evil slow pwfile victim
    evil=$(hostile_standin evil hijack)
    slow=$MG_SRC_DIR/tests/stubs/hostile/docker-slow
    pwfile=$MG_TMP/pw
    printf '%s\n' "$MG_PW_A" >"$pwfile"
    victim="$prefix/docker:victim?docker_path=$(mg_pct "$slow")/sudo:mgtest_a"
    victim+="/sudo:mgtest_b?password_file=$(mg_pct "$pwfile")"
    run_mg_sep 255 mitogen-run -w "$prefix/docker:evil?docker_path=$(mg_pct "$evil")" \
        -w "$victim" -- id -un
    assert "$output" == "victim: mgtest_b" "the victim ran, as mgtest_b, and only it printed"
    assert "$stderr" =~ "docker:evil.*announced a context it was not asked to connect" \
        "the hijacker's failure names it and why"
    assert "$(cat "$MG_TMP/evil.log")" =~ "dropped" "the hijacker was dropped"
    # Its own EXEC (it is a target too) may come before the drop: nothing else.
    local own
    own=$(awk '$1 == "up" { print $2 }' "$MG_TMP/evil.log")
    assert "$own" =~ "^[0-9]+$" "the hijacker recorded its id"
    run awk -v own="$own" '$1 == "got" && ($2 == 200 || $2 == 300) && $3 != own' "$MG_TMP/evil.log"
    assert "$output" == "" "no CONNECT or EXEC for another context reached the hijacker"
    run grep -F "$(hex "$MG_PW_A")" "$MG_TMP/evil.log"
    assert "$status" -eq 1 "the password never reached the hijacker"
}

@test "hostile: a hop cannot take over a sibling's context (local)" {
    need_users
    take_over local
}

@test "hostile: a hop cannot take over a sibling's context (over ssh)" {
    need_sshd
    need_users
    take_over "$(ssh_hop)"
}

@test "hostile: the commands route unidirectionally: a hop's calls never reach its sibling" {
    local poke
    poke=$(hostile_standin poke sibling-poke)
    run_mg_sep 127 mitogen-run -w "local/docker:poke?docker_path=$(mg_pct "$poke")" \
        -w local/local -- sleep 3
    assert "$stderr" =~ "poke: poked" "the poker ended as it said, once done"
    assert "$stderr" =~ "1 of 2 failed: poke" "the sibling ran its command"
    run awk '$1 == "up" { print $4 }' "$MG_TMP/poke.log"
    assert "$output" == "1" "HELLO told the hop to route unidirectionally"
    local refused
    refused=$(hex "routing mode prevents forward of message from context")
    run grep -c "^reply 1 1 $refused" "$MG_TMP/poke.log"
    assert "$output" -gt 0 "the shared parent refused calls to the sibling"
    run awk '$1 == "reply" && $3 == 0' "$MG_TMP/poke.log"
    assert "$output" == "" "no call was ever answered by a live context"
}
