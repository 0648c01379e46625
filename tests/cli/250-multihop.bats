#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# Chains that mix methods for real: the private sshd, then sudo with and
# without a password, then ssh again from an agent. Each agent runs the
# next hop's tool itself and pushes its own image into it.

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

function setup() {
    basic_setup
    need_sshd
    need_users
}

function teardown() {
    basic_teardown
}

@test "ssh, then sudo to a user, then sudo with a password: each hop on its own" {
    local hop
    hop=$(ssh_hop)
    # The password travels from this process down the chain to the agent
    # that runs the second sudo; it is never in any argv.
    MG_PW=$MG_PW_A run_mg_sep mitogen-run "$hop/sudo:mgtest_a/sudo:mgtest_b?password_env=MG_PW" -- \
        sh -c 'id -un; p=$PPID; while [ "$p" -gt 1 ]; do c=$(cat /proc/$p/comm); case $c in mitogen:*) echo "$c $(stat -c %U /proc/$p)";; esac; p=$(sed -n "s/^PPid:[[:space:]]*//p" /proc/$p/status); done'
    assert "${lines[0]}" == "mgtest_b" "the command runs as the last hop's user"
    assert "${lines[1]}" == "mitogen:3 mgtest_b" "hop 3's agent runs as mgtest_b"
    assert "${lines[2]}" == "mitogen:2 mgtest_a" "hop 2's agent runs as mgtest_a"
    assert "${lines[3]}" == "mitogen:1 root" "hop 1's agent is the ssh login"
}

@test "ssh, local, ssh: an inner ssh runs from the agent at hop 2" {
    local hop
    hop=$(ssh_hop)
    run_mg mitogen-run "$hop/local/$hop" -- sh -c 'cat /proc/$PPID/comm'
    assert "$output" == "mitogen:3" "three hops deep"
}

@test "a wrong password deep in the chain names that hop" {
    local hop
    hop=$(ssh_hop)
    MG_PW=wrong-$RANDOM run_mg_sep 255 mitogen-run "$hop/sudo:mgtest_a/sudo:mgtest_b?password_env=MG_PW" -- true
    assert "$stderr" =~ "sudo:mgtest_a/sudo:mgtest_b\\?password_env=MG_PW: sudo password is incorrect" \
        "the failing hop, with its full chain prefix"
}

@test "the password is asked on the terminal, for the hop two agents away" {
    if ! command -v script >/dev/null; then
        skip "needs script(1) (bsdutils) to give mitogen-run a terminal"
    fi
    local hop out
    hop=$(ssh_hop)
    # script gives mitogen-run a terminal; what we type is the password.
    out=$(printf '%s\n' "$MG_PW_A" | timeout "$(mg_secs 30)" script -qec \
        "mitogen-run '$hop/sudo:mgtest_a/sudo:mgtest_b' -- id -un" /dev/null 2>&1) || true
    echo "$out"
    assert "$out" =~ "\\[sudo:mgtest_b on " "the prompt names the hop and where it runs"
    assert "$out" =~ "mgtest_b" "the command ran as mgtest_b"
    assert "$out" !~ "$MG_PW_A" "the password is not echoed"
}

@test "no terminal and no password: the deep hop fails fast and says what to do" {
    local hop t0 t1
    hop=$(ssh_hop)
    t0=$(date +%s)
    # setsid: no controlling terminal even when the suite runs from one.
    run_mg_sep 255 setsid -w mitogen-run -n "$hop/sudo:mgtest_a/sudo:mgtest_b" -- true </dev/null
    t1=$(date +%s)
    assert "$stderr" =~ "sudo:mgtest_b: sudo password is required" "names the hop"
    assert "$stderr" =~ "password_env" "and says how to give one"
    if ((t1 - t0 > 10)); then
        die "took $((t1 - t0)) s: it must not wait for the connect timeout"
    fi
}
