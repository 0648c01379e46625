#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# A chain on this kernel all the way (local, fork, sudo, doas) hands
# the command mitogen-run's own stdin, stdout and stderr (SCM_RIGHTS down
# each hop, docs/PROTOCOL.md 3.1), as `sudo cmd` in a pipeline inherits
# them: no byte passes through an agent. Any other chain, a terminal, a
# non-blocking file, or several targets relay them as ever.

load helpers
load sshd

function setup_file() {
    start_sshd
}

function teardown_file() {
    stop_sshd
}

function setup() {
    basic_setup
    seq 1 20000 >"$MG_TMP/in"
}

function teardown() {
    basic_teardown
}

# device:inode of a file, as the remote `stat -L /dev/std*` prints it.
function ino() {
    stat -L -c %d:%i "$1"
}

# What the command's three stdio are, one line each.
STAT_STDIO='for f in /dev/stdin /dev/stdout /dev/stderr; do stat -L -c %d:%i $f; done'

@test "local/local: the command has the caller's own stdin, stdout and stderr" {
    mitogen-run local/local -- sh -c "$STAT_STDIO" \
        <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err"
    run cat "$MG_TMP/out"
    assert "${lines[0]}" == "$(ino "$MG_TMP/in")" "stdin is the caller's file"
    assert "${lines[1]}" == "$(ino "$MG_TMP/out")" "stdout is the caller's file"
    assert "${lines[2]}" == "$(ino "$MG_TMP/err")" "stderr is the caller's file"
}

@test "local/local: a command reading part of stdin leaves the rest to the next, as sudo would" {
    # One open file shared: the next command goes on where it stopped. A
    # relay reads ahead, and the next would find less.
    local got
    got=$( { mitogen-run local/local -- head -c 6 >/dev/null; cat; } <"$MG_TMP/in" | head -n 1)
    assert "$got" == "4" "the next command starts right after the first 6 bytes"
}

@test "local/sudo: the caller's stdio reach a command run as root, and it ends with its status" {
    sudo -n true 2>/dev/null || skip "needs passwordless sudo"
    run_mg 3 sh -c "mitogen-run local/sudo -- sh -c 'id -u; stat -L -c %d:%i /dev/stdin; wc -l; exit 3' <'$MG_TMP/in'"
    assert "${lines[0]}" == "0" "root at the end"
    assert "${lines[1]}" == "$(ino "$MG_TMP/in")" "stdin is the caller's file"
    assert "${lines[2]}" == "20000" "all of it read"
}

@test "an ssh hop anywhere in the chain: stdio relayed, bytes exact" {
    need_sshd
    local hop want
    hop=$(ssh_hop)
    want=$(sha256sum <"$MG_TMP/in")
    for chain in "$hop/local" "local/$hop" "local/$hop/local"; do
        mitogen-run "$chain" -- sh -c 'stat -L -c %d:%i /dev/stdin >&2; sha256sum' \
            <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err"
        assert "$(cat "$MG_TMP/out")" == "$want" "$chain: stdin arrived whole"
        assert "$(cat "$MG_TMP/err")" != "$(ino "$MG_TMP/in")" "$chain: stdin is a relay's pipe"
    done
}

@test "a sudo that relays its stdio itself: the far end says so, and the run goes on relayed" {
    sudo -n true 2>/dev/null || skip "needs passwordless sudo"
    # As sudo with I/O logging: pipes between the hop's socket and the
    # agent. The descriptors go as far as they can, and the request
    # arrives without them.
    printf '#!/bin/sh\ncat | sudo "$@" | cat\n' >"$MG_TMP/relaying-sudo"
    chmod +x "$MG_TMP/relaying-sudo"
    local want path
    want=$(sha256sum <"$MG_TMP/in")
    path=$(printf %s "$MG_TMP/relaying-sudo" | sed 's,/,%2F,g')
    for chain in "sudo?sudo_path=$path" "local/sudo?sudo_path=$path"; do
        mitogen-run "$chain" -- sh -c 'stat -L -c %d:%i /dev/stdin >&2; sha256sum' \
            <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err"
        assert "$(cat "$MG_TMP/out")" == "$want" "$chain: stdin arrived whole"
        assert "$(head -n1 "$MG_TMP/err")" != "$(ino "$MG_TMP/in")" "$chain: stdin is a relay's pipe"
    done
}

@test "several targets, -n, or a non-blocking stdin: relayed as ever" {
    run_mg sh -c "mitogen-run local,fork -- stat -L -c %d:%i /dev/stdin <'$MG_TMP/in'"
    assert "$output" != *"$(ino "$MG_TMP/in")"* "each target reads its own copy"
    run_mg sh -c "mitogen-run -n local/local -- stat -L -c %d:%i /dev/stdin <'$MG_TMP/in'"
    assert "$output" == "$(ino /dev/null)" "-n: /dev/null"
    # A non-blocking stdin would give the command EAGAIN: we read it.
    run_mg python3 -c 'import os, subprocess, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
os.dup2(fd, 0)
subprocess.run(["mitogen-run", "local/local", "--", "sh", "-c", "stat -L -c %d:%i /dev/stdin; wc -l"])' "$MG_TMP/in"
    assert "${lines[0]}" != "$(ino "$MG_TMP/in")" "not the caller's file"
    assert "${lines[1]}" == "20000" "all of it read"
}

@test "passed stdio: -u stops the command, SIGTERM reaches it" {
    local rc=0
    timeout "$(mg_secs 20)" mitogen-run -u 1 local/local -- sleep 30 \
        <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err" || rc=$?
    assert "$rc" -eq 124 "-u: 124"
    env --default-signal=TERM mitogen-run local/local -- sh -c \
        "trap 'echo got-term; exit 8' TERM; echo ready >$MG_TMP/ready; while :; do sleep 0.1; done" \
        <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err" &
    local pid=$! i
    for ((i = 0; i < 200; i++)); do [[ -e $MG_TMP/ready ]] && break; sleep 0.05; done
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    assert "$rc" -eq 8 "the trap's status"
    assert "$(cat "$MG_TMP/out")" == "got-term" "the trap wrote to the caller's stdout"
}

# term_under_strace STRACE_OPTION...: mitogen-run local/local runs a
# command that traps SIGTERM, under strace with those options; once the
# command has run, one SIGTERM to mitogen-run (strace's child: the signal
# is for it, not strace) must reach the command, not end the target as
# "interrupted" (143, the command killed with its chain).
function term_under_strace() {
    local pid i rc=0
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        strace -qq -o /dev/null "$@" \
        mitogen-run local/local -- sh -c \
        "trap 'echo got-term; exit 8' TERM; echo ready >$MG_TMP/ready; while :; do sleep 0.1; done" \
        <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err" &
    pid=$!
    for ((i = 0; i < 3000; i++)); do [[ -e $MG_TMP/ready ]] && break; sleep 0.01; done
    assert "$([[ -e $MG_TMP/ready ]] && echo yes)" == yes "the command ran"
    kill -TERM "$(cat "/proc/$pid/task/$pid/children")"
    wait "$pid" || rc=$?
    assert "$rc" -eq 8 "the trap's status"
    assert "$(cat "$MG_TMP/out")" == "got-term" "the trap ran"
    assert "$(cat "$MG_TMP/err")" !~ interrupted "not ended as interrupted"
}

@test "a SIGTERM read with the command's STARTED, the chain's up still to be taken, reaches the command" {
    command -v strace >/dev/null || skip "needs strace"
    # mitogen-run stalls before each epoll_wait, so the command's STARTED,
    # the last hop's up and our signal are read in one turn of its loop.
    term_under_strace -e trace=epoll_wait,epoll_pwait \
        -e inject=epoll_wait,epoll_pwait:delay_enter=200000
}

@test "a SIGTERM read before the command's STARTED, the command already running, reaches the command" {
    command -v strace >/dev/null || skip "needs strace"
    # Every write of mitogen-run, its agents and the command is held
    # 150 ms: the command has written "ready" (to a file of the caller's)
    # while its STARTED is still in the hops; the signal waits for the far
    # end's word and is passed on.
    term_under_strace -f -e trace=write,writev,sendmsg \
        -e inject=write,writev,sendmsg:delay_enter=150000
}

@test "passed stdout: a job left in the background with it holds the run, as a relayed pipe would" {
    local rc=0 t0 t1 n
    n=$((RANDOM + 40000))
    # Holding the caller's stdout: -u reaches it, nothing is left behind.
    timeout "$(mg_secs 30)" mitogen-run -u 1 local/local "sleep $n & echo \$! >$MG_TMP/bg1; echo bg" \
        <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err" || rc=$?
    assert "$rc" -eq 124 "-u: 124, not the shell's own 0"
    assert "$(cat "$MG_TMP/out")" == "bg" "the shell's output"
    sleep 0.5
    # (gone, or a zombie that nobody reaps in a container)
    assert "$(ps -o stat= -p "$(cat "$MG_TMP/bg1")" | grep -v '^Z' || true)" == "" \
        "the background sleep is gone"
    # Not holding it: the run ends with the shell.
    t0=$(date +%s%N)
    timeout "$(mg_secs 30)" mitogen-run local/local \
        "sleep $n >/dev/null 2>&1 </dev/null & echo \$! >$MG_TMP/bg2; echo bg" \
        <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err"
    t1=$(date +%s%N)
    kill "$(cat "$MG_TMP/bg2")"
    assert "$(((t1 - t0) / 1000000))" -lt 10000 "milliseconds: it did not wait for the sleep"
    # An output that is /dev/null is not passed: the same job, sent to
    # the background >/dev/null, would look like a holder of it.
    t0=$(date +%s%N)
    timeout "$(mg_secs 30)" mitogen-run local/local \
        "sleep $n >/dev/null 2>&1 </dev/null & echo \$! >$MG_TMP/bg3; echo bg" \
        <"$MG_TMP/in" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    kill "$(cat "$MG_TMP/bg3")" || true
    assert "$(((t1 - t0) / 1000000))" -lt 10000 "milliseconds, stdout /dev/null"
}

@test "-n or a /dev/null stdin: stdout and stderr are still the caller's, with no refused try first" {
    local how
    for how in -n devnull; do
        if [[ $how == -n ]]; then
            mitogen-run -vv -n local/local -- sh -c "$STAT_STDIO" \
                <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err"
        else
            mitogen-run -vv local/local -- sh -c "$STAT_STDIO" \
                </dev/null >"$MG_TMP/out" 2>"$MG_TMP/err"
        fi
        run cat "$MG_TMP/out"
        assert "${lines[0]}" == "$(ino /dev/null)" "$how: stdin is /dev/null"
        assert "${lines[1]}" == "$(ino "$MG_TMP/out")" "$how: stdout is the caller's file"
        assert "$(grep -c 'cannot pass this link' "$MG_TMP/err" || true)" == "0" \
            "$how: no try refused and sent again relayed"
    done
}

@test "passed stdout: with the command's group gone, the end looks at no other process" {
    command -v strace >/dev/null || skip "needs strace"
    # Nothing of the group is left to hold the output: the far agent need
    # not read /proc/PID/stat of every process on the host to know it.
    # (The first hop's agent reads them anyway, to end its child's session.)
    # LeakSanitizer cannot run under ptrace: the ASan build checks no leaks here.
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        strace -ff -qq -e trace=open,openat,execve,clone,clone3,vfork -o "$MG_TMP/trace" \
        mitogen-run local/local -- true <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err"
    local cmd far
    cmd=$(grep -l 'execve(.*"-c", "true"\]' "$MG_TMP"/trace.* | head -n 1)
    assert "$cmd" != "" "the command's trace"
    far=$(grep -lE "(clone|clone3|vfork)\(.*= ${cmd##*.}\$" "$MG_TMP"/trace.* | head -n 1)
    assert "$far" != "" "the far agent's trace"
    run grep -cE '"/proc/[0-9]+/stat"' "$far"
    assert "$output" == "0" "no process's stat read by the far agent"
    # Still held by a job left in the background with it.
    local rc=0
    timeout "$(mg_secs 30)" mitogen-run -u 1 local/local "sleep 60 & echo bg" \
        <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err" || rc=$?
    assert "$rc" -eq 124 "-u: 124, the background job held the run"
}

@test "passed stdout held by a background job: each look reads the holder it found, not every process" {
    command -v strace >/dev/null || skip "needs strace"
    # While the job holds the output, the far agent looks every 100 ms:
    # at the process it found holding it, and at all of /proc only once
    # that one lets go.
    local nproc
    nproc=$(find /proc -maxdepth 1 -name '[0-9]*' | wc -l)
    # LeakSanitizer cannot run under ptrace: the ASan build checks no leaks here.
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        strace -ff -qq -e trace=open,openat,execve,clone,clone3,vfork -o "$MG_TMP/trace" \
        mitogen-run local/local 'sleep 3 & echo bg' \
        <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err"
    assert "$(cat "$MG_TMP/out")" == "bg" "the shell's output"
    local cmd far n
    cmd=$(grep -l 'execve(.*"-c", "sleep 3 & echo bg"\]' "$MG_TMP"/trace.* | head -n 1)
    assert "$cmd" != "" "the command's trace"
    far=$(grep -lE "(clone|clone3|vfork)\\(.*= ${cmd##*.}\$" "$MG_TMP"/trace.* | head -n 1)
    assert "$far" != "" "the far agent's trace"
    n=$(grep -cE '"/proc/[0-9]+/stat"' "$far" || true)
    # About 30 looks in 3 s: 30 whole scans before, two or three now.
    assert "$n" -lt "$((nproc * 6))" "/proc/PID/stat reads ($n) against $nproc processes"
    assert "$n" -gt 0 "it looked"
}

@test "su (its agent on a terminal, which carries no descriptors): relayed from the start, no refused try" {
    [[ $(id -u) == 0 ]] && su root -c true </dev/null >/dev/null 2>&1 || skip "needs su as root"
    mitogen-run -vv su -- sh -c 'sha256sum' <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err"
    assert "$(cat "$MG_TMP/out")" == "$(sha256sum <"$MG_TMP/in")" "stdin arrived whole"
    assert "$(grep -c 'cannot pass this link' "$MG_TMP/err" || true)" == "0" \
        "no EXEC sent with descriptors to be refused and sent again"
}

@test "stdout on a terminal stays ours (the command sees a pipe, as before); stdin from a file is still passed" {
    skip_if_no_program script
    local out
    out=$(script -qec "mitogen-run local/local -- sh -c 'stat -L -c %d:%i /dev/stdin; test -t 1 && echo far-tty || echo far-pipe' <'$MG_TMP/in'" /dev/null | tr -d '\r')
    assert "$out" == "$(ino "$MG_TMP/in")"$'\n'"far-pipe" "stdin passed, stdout relayed from the terminal"
}
