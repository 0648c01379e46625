#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the far shells
#
# --persist / MITOGEN_PERSIST: one background holder per user keeps the
# chains up for the next command of any kind; --persist-check, -stop and
# -list; idle expiry; a holder killed or a stale socket replaced; sockets
# that are not ours refused; a client killed or stopped mid-command.
# Each test has its own XDG_RUNTIME_DIR, so its holder is its own, and
# teardown stops that holder by its pid.

load helpers

function setup() {
    basic_setup
    export XDG_RUNTIME_DIR=$MG_TMP/xdg
    mkdir -m 700 "$XDG_RUNTIME_DIR"
    SOCK=$XDG_RUNTIME_DIR/mitogen/persist.sock
    unset MITOGEN_PERSIST
}

function teardown() {
    local pid
    pid=$(holder_pid)
    if [[ -n $pid ]]; then
        kill "$pid" 2>/dev/null || true
        wait_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
    basic_teardown
}

# The holder's pid (empty when none answers).
function holder_pid() {
    mitogen-run --persist-list 2>/dev/null | sed -n 's/^holder pid \([0-9]*\),.*/\1/p'
}

# Wait (up to 10 s) until pid $1 is gone.
function wait_gone() {
    local i
    for ((i = 0; i < 200; i++)); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.05
    done
    return 1
}

# Wait (up to 10 s) until file $1 exists.
function wait_file() {
    local i
    for ((i = 0; i < 200; i++)); do
        [[ -s $1 ]] && return 0
        sleep 0.05
    done
    return 1
}

@test "--persist: later commands of any kind reuse the hops; 0700 directory, 0600 socket" {
    run_mg mitogen-run --persist local/local 'echo $PPID'
    local agent=$output
    run_mg mitogen-run --persist local/local 'echo $PPID'
    assert "$output" == "$agent" "the second command ran under the same agent"
    MITOGEN_PERSIST=10m run_mg fakessh local/local 'echo $PPID'
    assert "$output" == "$agent" "fakessh with MITOGEN_PERSIST: the same agent"
    printf 'data\n' >"$MG_TMP/src"
    run_mg mitogen-cp --persist "$MG_TMP/src" "local/local:$MG_TMP/dst"
    assert "$(cat "$MG_TMP/dst")" == "data" "mitogen-cp over the held chain"
    printf '#!/bin/sh\necho "pushed $1 $PPID"\n' >"$MG_TMP/prog"
    chmod +x "$MG_TMP/prog"
    run_mg mitogen-exec --persist local/local "$MG_TMP/prog" 'a b'
    assert "$output" == "pushed a b $agent" "mitogen-exec: pushed through the holder, the same agent"
    cd "$MG_TMP"
    run_mg mitogen-exec --persist local/local ./prog rel
    assert "$output" == "pushed rel $agent" "a relative path is the command's, not the holder's"
    run_mg 255 mitogen-exec --persist local/local ./missing
    assert "$output" =~ "./missing: No such file or directory" "a missing program"
    run_mg mitogen-run local/local 'echo $PPID'
    assert "$output" != "$agent" "without --persist: a chain of its own"
    assert "$(stat -c %a "$XDG_RUNTIME_DIR/mitogen")" == "700" "directory mode"
    assert "$(stat -c %a "$SOCK")" == "600" "socket mode"
    run ls "$XDG_RUNTIME_DIR/mitogen"
    assert "$output" == $'persist.lock\npersist.sock' "only the socket and its lock on disk"
}

@test "--persist keeps output, status, stdin, -u and -T as without it" {
    run_mg 3 mitogen-run --persist local 'echo out; echo err >&2; exit 3'
    assert "$output" == $'out\nerr' "output"
    run_mg mitogen-run --persist local tr a-z A-Z <<<"hello"
    assert "$output" == "HELLO" "stdin"
    run_mg 124 mitogen-run --persist -u 0.5 local sleep 30
    run_mg mitogen-run --persist -T local 'test -t 0 && echo tty'
    assert "$output" =~ "tty" "-T gives a terminal"
    run_mg 143 mitogen-run --persist local 'kill -TERM $$'
    # --json: an unreachable target's duration is its connect's, not 0.
    printf '#!/bin/sh\nsleep 0.3\nexit 255\n' >"$MG_TMP/slowfail"
    chmod +x "$MG_TMP/slowfail"
    local path=$MG_TMP/slowfail
    run_mg_sep 255 mitogen-run --persist --json "ssh:x?ssh_path=${path//\//%2F}" true
    assert "$output" =~ '"outcome":"unreachable"' "unreachable"
    [[ $output =~ \"duration\":([0-9.]+) ]] || die "no duration: $output"
    assert "$((10#${BASH_REMATCH[1]/./}))" -ge 300 "the duration covers the failed connect (ms)"
}

# Run "$@" with and without --persist, from the current directory,
# umask and environment: both must print the same and end the same.
function same_held() {
    run_mg_sep mitogen-run "$@"
    local plain=$output plain_rc=$status
    run_mg_sep mitogen-run --persist "$@"
    assert "$status" -eq "$plain_rc" "the status of '$*', held as not"
    assert "$output" == "$plain" "the output of '$*', held as not"
}

@test "--persist: a command gets the caller's directory, umask and environment, as its own hop would give" {
    # The holder starts elsewhere, with another umask and environment.
    (cd / && umask 022 && HELD_ONLY=1 SHARED=holder MG_PW=secret mitogen-run --persist local true)
    mkdir -p "$MG_TMP/d i r"
    cd "$MG_TMP/d i r"
    umask 027
    export SHARED=caller
    same_held local 'pwd; umask; echo "${SHARED-unset} ${HELD_ONLY-unset}"'
    assert "$output" == "$MG_TMP/d i r"$'\n0027\ncaller unset' "local: the caller's, not the holder's"
    same_held local/fork/local 'pwd; umask'
    assert "${lines[0]}" == "$MG_TMP/d i r" "local and fork hops"
    printf '#!/bin/sh\npwd; umask\n' >"$MG_TMP/prog"
    chmod +x "$MG_TMP/prog"
    run_mg mitogen-exec --persist local "$MG_TMP/prog"
    assert "$output" == "$MG_TMP/d i r"$'\n0027' "mitogen-exec too"
    # -C still decides where it is given.
    same_held -C / local pwd
    assert "$output" == "/" "-C"
    if is_root && command -v sudo >/dev/null; then
        # sudo keeps the directory (its own environment and umask rules
        # apply either way); sudo -i goes to the target's home.
        same_held sudo pwd
        assert "$output" == "$MG_TMP/d i r" "sudo: the caller's directory"
        same_held local/sudo pwd
        same_held 'sudo?login=yes' pwd
        assert "$output" == "$(getent passwd root | cut -d: -f6)" "sudo -i: root's home"
        # A password variable is no command's, held or not (the
        # holder reads it from the environment it was started with).
        MG_PW=secret same_held -w local -w 'sudo?password_env=MG_PW' -- 'echo "${MG_PW-none}"'
        assert "$output" =~ "local: none" "password_env= is kept from the local command"
    fi
}

@test "--persist: mitogen-cp's relative paths at a local chain are the caller's" {
    (cd / && mitogen-run --persist local true)
    mkdir -p "$MG_TMP/w/sub"
    cd "$MG_TMP/w"
    printf 'data\n' >src
    run_mg mitogen-cp --persist local:src local:copy
    assert "$(cat "$MG_TMP/w/copy")" == "data" "CHAIN:REL to CHAIN:REL"
    run_mg mitogen-cp --persist src local:sub/pushed
    assert "$(cat "$MG_TMP/w/sub/pushed")" == "data" "a push to a relative path"
    run_mg mitogen-cp --persist local:sub/pushed pulled
    assert "$(cat "$MG_TMP/w/pulled")" == "data" "a pull from a relative path"
    cd sub
    run_mg mitogen-cp --persist -w local -w local/local ../src :fanned
    run ls "$MG_TMP/w/sub"
    assert "$output" =~ "fanned" "-w: the shared destination, relative to us"
    run_mg 1 mitogen-cp --persist local:missing here
    assert "$output" =~ "local: missing: No such file or directory" "the error names the path as given"
}

@test "--persist: mitogen-cp's new files at a local chain get the caller's umask, not the holder's" {
    (cd / && umask 022 && mitogen-run --persist local true)
    mkdir -p "$MG_TMP/u/tree/d"
    printf 'data\n' >"$MG_TMP/u/src"
    printf 'data\n' >"$MG_TMP/u/tree/d/f"
    chmod 0644 "$MG_TMP/u/src" "$MG_TMP/u/tree/d/f"
    chmod 0755 "$MG_TMP/u/tree" "$MG_TMP/u/tree/d"
    local p modes=()
    for p in "" --persist; do
        mkdir "$MG_TMP/u/to$p"
        (
            umask 077
            mitogen-cp $p "$MG_TMP/u/src" "local:$MG_TMP/u/to$p/pushed"
            mitogen-cp $p -w local,local/fork "$MG_TMP/u/src" ":$MG_TMP/u/to$p/"
            mitogen-cp $p -r "$MG_TMP/u/tree" "local/local:$MG_TMP/u/to$p/tree"
            mitogen-cp $p -r "local:$MG_TMP/u/tree" "fork:$MG_TMP/u/to$p/moved"
        ) || die "a copy failed ($p)"
        modes+=("$(cd "$MG_TMP/u/to$p" && find . -printf '%p %m\n' | LC_ALL=C sort)")
    done
    assert "${modes[1]}" == "${modes[0]}" "held and not, the same modes"
    assert "${modes[1]}" =~ "./pushed 600" "a pushed file: 0644 less 077"
    assert "${modes[1]}" =~ "./tree/d 700" "a directory: 0755 less 077"
    assert "${modes[1]}" =~ "./moved/d/f 600" "a transfer between chains too"
}

@test "--persist-check, --persist-list and --persist-stop" {
    run_mg 255 mitogen-run --persist-check local
    assert "$output" =~ "no holder running" "check without a holder"
    run_mg mitogen-run --persist local/local true
    run_mg mitogen-run --persist-check local/local
    assert "$output" =~ "^local/local: held \(holder pid [0-9]+\)$" "check: held"
    run_mg 255 mitogen-run --persist-check local
    assert "$output" =~ "local: not held" "an intermediate hop is no chain held"
    run_mg mitogen-run --persist local true
    run_mg mitogen-run --persist-list
    assert "${lines[0]}" =~ "^holder pid [0-9]+, up [0-9]+s, 0 clients, exits after 10m0s idle$" \
        "header: the listing itself is no client"
    assert "$output" =~ $'\nlocal\tage [0-9]+s\tidle [0-9]+s' "local listed"
    assert "$output" =~ $'\nlocal/local\tage [0-9]+s\tidle [0-9]+s' "local/local listed"
    mitogen-run --persist local "echo up >'$MG_TMP/up'; exec sleep 30" &
    local client=$!
    wait_file "$MG_TMP/up"
    run_mg mitogen-run --persist-list
    assert "${lines[0]}" =~ ", 1 client, " "a command running"
    kill "$client"
    wait "$client" || true
    run_mg mitogen-run --persist=2h local true
    run_mg mitogen-run --persist=1m local true
    run_mg mitogen-run --persist-list
    assert "${lines[0]}" =~ "exits after 2h0m idle$" "the longest idle time any command asked for"
    run_mg_sep 2 mitogen-run --persist-list extra
    assert "$stderr" =~ "extra: no other arguments with --persist-check" "a stray word: usage error"
    run_mg_sep 2 mitogen-run --persist-check local/local -- true
    run_mg mitogen-run --persist-stop local/local
    assert "$output" =~ "local/local: stopping" "stop one chain"
    run_mg 255 mitogen-run --persist-check local/local
    run_mg mitogen-run --persist-check local
    local pid
    pid=$(holder_pid)
    run_mg mitogen-cp --persist-stop
    assert "$output" == "holder pid $pid: exiting" "stop the holder"
    wait_gone "$pid"
    run ls -A "$XDG_RUNTIME_DIR/mitogen"
    assert "$output" == "" "socket and lock gone with the holder"
    run_mg 2 mitogen-run --persist-list --persist-stop
    run_mg 2 mitogen-run --persist-check 'local/'
}

@test "bad durations are usage errors" {
    run_mg 2 mitogen-run --persist=x local true
    assert "$output" =~ "--persist 'x': expected a duration" "bad --persist"
    run_mg 2 mitogen-run --persist=0 local true
    run_mg 2 mitogen-run --persist=8d local true
    run_mg 2 mitogen-run --persist=999999999999h local true
    MITOGEN_PERSIST=5q run_mg 2 mitogen-run local true
    assert "$output" =~ "MITOGEN_PERSIST '5q'" "bad MITOGEN_PERSIST"
    # fakessh's own errors are ssh's 255: a 2 is the far command's.
    MITOGEN_PERSIST=5q run_mg_sep 255 fakessh local 'echo ran'
    assert "$output" == "" "fakessh ran nothing"
    assert "$stderr" =~ "^fakessh: MITOGEN_PERSIST '5q': expected a duration" "fakessh says why"
    run_mg mitogen-run --persist=2s local 'echo ok'
    run_mg mitogen-run --persist 90 local 'echo ok'
}

@test "idle expiry waits for a running command, then removes socket and lock" {
    run_mg mitogen-run --persist=1 local 'sleep 2.5; echo done'
    assert "$output" == "done" "the command outlived the idle time"
    local pid
    pid=$(holder_pid)
    assert "$pid" != "" "holder still there right after"
    wait_gone "$pid"
    run ls -A "$XDG_RUNTIME_DIR/mitogen"
    assert "$output" == "" "nothing left on disk"
}

@test "a holder whose runtime directory is removed (logind at logout) still leaves when idle" {
    # It retried its lock every 100 ms for ever, holding its hops.
    run_mg mitogen-run --persist=1 local true
    local pid rc=0
    pid=$(holder_pid)
    assert "$pid" != "" "a holder"
    rm -rf "$XDG_RUNTIME_DIR/mitogen"
    wait_gone "$pid" || rc=$?
    if ((rc != 0)); then
        kill -9 "$pid" 2>/dev/null || true
    fi
    assert "$rc" == 0 "the holder left within 10 s of its 1 s idle time"
}

# How many copies of pushed programs the processes $@ hold.
function program_copies() {
    local pid n=0
    for pid in "$@"; do
        n=$((n + $(find "/proc/$pid/fd" -lname '/memfd:mitogen-exec*' 2>/dev/null | wc -l)))
    done
    echo "$n"
}

@test "a held chain keeps no copy of a pushed program once its command has ended" {
    # The agents are not dumpable: only root sees their descriptors.
    skip_if_not_root
    # It says which agents ran it and passed it on; 1 MiB, so that copies
    # left behind would add up over a day of cron runs.
    printf '#!/bin/sh\necho "$PPID $(cut -d" " -f4 /proc/$PPID/stat)"\nexit 0\n' >"$MG_TMP/prog"
    head -c 1048576 /dev/zero | tr '\0' '#' >>"$MG_TMP/prog"
    local agents i k
    for ((k = 1; k <= 3; k++)); do
        run_mg mitogen-exec --persist local/local -- "$MG_TMP/prog"
        agents=$output
        for ((i = 0; i < 100; i++)); do
            [[ $(program_copies $agents) -eq 0 ]] && break
            sleep 0.1
        done
        # shellcheck disable=SC2086 # two pids
        assert "$(program_copies $agents)" -eq 0 "run $k: no copy left in the held agents $agents"
    done
}

@test "SIGKILL of the holder mid-command: 255, then the next command recovers" {
    run_mg mitogen-run --persist local true
    local pid
    pid=$(holder_pid)
    timeout 20 mitogen-run --persist local 'echo up; sleep 30' >"$MG_TMP/out" 2>"$MG_TMP/err" &
    local client=$!
    wait_file "$MG_TMP/out"
    kill -9 "$pid"
    local rc=0
    wait "$client" || rc=$?
    assert "$rc" == 255 "the client fails with 255"
    cat "$MG_TMP/err"
    assert "$(cat "$MG_TMP/err")" =~ "mitogen-run: local: " "the error names the hop"
    assert "$(stat -c %F "$SOCK")" == "socket" "a stale socket is left"
    run_mg mitogen-run --persist local 'echo again'
    assert "$output" == "again" "a new holder took over the stale socket"
    assert "$(holder_pid)" != "$pid" "a new holder"
}

@test "--persist-stop mid-command: every client says its link is lost, 255, whatever its chain" {
    # The holder's teardown stopped the commands, and a one-hop command
    # got that end as its result (143, no message) while a two-hop one
    # said "parent lost": the clients' links now go first.
    run_mg mitogen-run --persist local true
    local one two rc1=0 rc2=0 i nap=30.$RANDOM$RANDOM
    timeout 20 mitogen-run --persist local "echo up; sleep $nap" >"$MG_TMP/out1" 2>"$MG_TMP/err1" &
    one=$!
    timeout 20 mitogen-run --persist local/local "echo up; sleep $nap" >"$MG_TMP/out2" 2>"$MG_TMP/err2" &
    two=$!
    wait_file "$MG_TMP/out1"
    wait_file "$MG_TMP/out2"
    run_mg mitogen-run --persist-stop
    assert "$output" =~ "exiting" "the holder says it exits"
    wait "$one" || rc1=$?
    wait "$two" || rc2=$?
    cat "$MG_TMP/err1" "$MG_TMP/err2"
    assert "$rc1" == 255 "one hop: 255"
    assert "$rc2" == 255 "two hops: 255"
    assert "$(cat "$MG_TMP/err1")" == "mitogen-run: local: connection to $SOCK lost" "one hop: why"
    assert "$(cat "$MG_TMP/err2")" == "mitogen-run: local/local: connection to $SOCK lost" "two hops: why"
    for ((i = 0; i < 200; i++)); do
        [[ -z $(live_procs "sleep $nap") ]] && break
        sleep 0.05
    done
    assert "$(live_procs "sleep $nap")" == "" "the remote commands were stopped"
}

@test "--persist-stop=TARGET mid-command: its commands fail 255 saying so; another chain runs on" {
    # Before, a command on the stopped chain got the end its agent gave
    # it (143, no message): the holder now tells it first.
    run_mg mitogen-run --persist local true
    local one two other rc1=0 rc2=0 rc3=0 i nap=30.$RANDOM$RANDOM
    timeout 20 mitogen-run --persist local "echo up; sleep $nap" >"$MG_TMP/out1" 2>"$MG_TMP/err1" &
    one=$!
    timeout 20 mitogen-run --persist local/local "echo up; sleep $nap" >"$MG_TMP/out2" 2>"$MG_TMP/err2" &
    two=$!
    timeout 20 mitogen-run --persist fork "echo up; sleep 2; echo done" >"$MG_TMP/out3" 2>"$MG_TMP/err3" &
    other=$!
    wait_file "$MG_TMP/out1"
    wait_file "$MG_TMP/out2"
    wait_file "$MG_TMP/out3"
    run_mg mitogen-run --persist-stop=local
    assert "$output" =~ "local: stopping" "the holder says it stops the chain"
    wait "$one" || rc1=$?
    wait "$two" || rc2=$?
    wait "$other" || rc3=$?
    assert "$rc1" == 255 "one hop: 255, as ssh -O stop gives"
    assert "$rc2" == 255 "the chain below it too"
    assert "$(cat "$MG_TMP/err1")" == "mitogen-run: local: shut down by the session's master" "one hop: why"
    assert "$(cat "$MG_TMP/err2")" =~ "^mitogen-run: local/local: .*shut down by the session's master$" "two hops: why"
    assert "$rc3" == 0 "the fork chain ran on"
    assert "$(cat "$MG_TMP/out3")" == $'up\ndone' "its whole output"
    for ((i = 0; i < 200; i++)); do
        [[ -z $(live_procs "sleep $nap") ]] && break
        sleep 0.05
    done
    assert "$(live_procs "sleep $nap")" == "" "the remote commands were stopped"
    run_mg mitogen-run --persist-stop
}

@test "a holder told to stop leaves at once while a command in its start-up holds the lock" {
    # A command starting holds persist.lock (from its first look at the
    # socket to its attach). The holder, on SIGTERM or --persist-stop,
    # waited for that lock in its loop: it hung, answering nobody, for as
    # long as the command held it (a command stopped there: for ever).
    run_mg mitogen-run --persist local true
    local pid locker
    pid=$(holder_pid)
    (exec 9>"$XDG_RUNTIME_DIR/mitogen/persist.lock" && flock 9 && echo locked >"$MG_TMP/locked" &&
        exec sleep 60) &
    locker=$!
    wait_file "$MG_TMP/locked"
    kill "$pid"
    wait_gone "$pid" || true
    run kill -0 "$locker"
    assert "$status" == 0 "the lock is still held"
    run kill -0 "$pid"
    assert "$status" != 0 "the holder left all the same"
    assert "$(ls "$XDG_RUNTIME_DIR/mitogen")" == "persist.lock" "its socket is gone, the lock file in use stays"
    kill "$locker"
    wait "$locker" || true
    run_mg mitogen-run --persist local 'echo next'
    assert "$output" == "next" "the next command starts a new holder"
}

@test "a socket of another user, or open to others, is refused" {
    run_mg mitogen-run --persist local true
    local pid
    pid=$(holder_pid)
    kill "$pid"
    wait_gone "$pid"
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SOCK"
    chown 65534 "$SOCK"
    run_mg 255 mitogen-run --persist local true
    assert "$output" =~ "persist.sock: owned by uid 65534, not by us" "other owner"
    run_mg 255 mitogen-run --persist-list
    chown 0 "$SOCK"
    chmod 0666 "$SOCK"
    run_mg 255 mitogen-run --persist local true
    assert "$output" =~ "persist.sock: mode 666 lets others in: refused" "open mode"
    chmod 0600 "$SOCK"
    run_mg mitogen-run --persist local 'echo stale replaced'
    chmod 0755 "$XDG_RUNTIME_DIR/mitogen"
    run_mg 255 mitogen-run --persist local true
    chmod 0700 "$XDG_RUNTIME_DIR/mitogen"
}

@test "a holder of another build: every command says so and how to stop it; --persist-stop does" {
    # A holder left by the build before an upgrade (protocol 99 here)
    # refused every command, --persist-list and --persist-stop included,
    # with no pid to kill by hand, for as long as cron kept it busy.
    mkdir -m 700 "$XDG_RUNTIME_DIR/mitogen"
    python3 -c '
import os, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o600)
s.listen(8)
open(sys.argv[2], "w").write("%d\n" % os.getpid())
name = b"unix:0"
hello = struct.pack(">IIIIIIB", 99, 1, 1, 0, 1 << 22, 1 << 21, 0)
hello += struct.pack(">I", len(name)) + name
frame = struct.pack(">HHIIIIII", 0x4d47, 0, 1, 0, 0, 100, 100, len(hello)) + hello
while True:
    c, _ = s.accept()
    # A client may close with our hello unread: a reset, not an end.
    try:
        c.sendall(frame)
        c.recv(4096)
    except OSError:
        pass
    c.close()' "$SOCK" "$MG_TMP/old.pid" &
    local old=$!
    wait_file "$MG_TMP/old.pid"
    run_mg_sep 255 mitogen-run --persist local true
    assert "$stderr" =~ "persist.sock: the listener \(pid $old\) speaks protocol 99, we speak [0-9]+: a holder of another mitogen build: --persist-stop stops it" \
        "the command says why, which pid, and what to do"
    run_mg_sep 255 mitogen-run --persist-list
    assert "$stderr" =~ "pid $old.*--persist-stop stops it" "--persist-list too"
    run_mg mitogen-run --persist-stop
    assert "$output" == "holder pid $old: exiting (another mitogen build: told by SIGTERM)" "stopped"
    local rc=0
    wait "$old" || rc=$?
    assert "$rc" == 143 "the old holder got SIGTERM"
    run_mg mitogen-run --persist local 'echo ours'
    assert "$output" == "ours" "a holder of this build took over the stale socket"
}

@test "a client killed mid-command: its command stops, the chain stays for others" {
    run_mg mitogen-run --persist local true
    mitogen-run --persist local "echo \$\$ >'$MG_TMP/pid'; exec sleep 30" &
    local client=$!
    wait_file "$MG_TMP/pid"
    local far
    far=$(cat "$MG_TMP/pid")
    kill -9 "$client"
    wait_gone "$far"
    run kill -0 "$far"
    assert "$status" != 0 "the far command was stopped"
    run_mg mitogen-run --persist-check local
    run_mg mitogen-run --persist local 'echo still'
}

# A hop that never comes up: its ssh sleeps $1 seconds (a number no
# other process uses, so that teardown_hang stops only these).
function hang_hop() {
    printf '#!/bin/sh\nexec sleep %s\n' "$1" >"$MG_TMP/hang"
    chmod +x "$MG_TMP/hang"
    printf 'ssh:h?ssh_path=%s' "${MG_TMP//\//%2F}%2Fhang"
}

# wait_hang NAP: until the stand-in's "sleep NAP" runs (10 s at most).
function wait_hang() {
    local i
    for ((i = 0; i < 200; i++)); do
        [[ -z $(pgrep -f -x -- "sleep $1") ]] || break
        sleep 0.05
    done
}

function teardown_hang() {
    local pid
    for pid in $(pgrep -f -x -- "sleep $1"); do
        kill "$pid" 2>/dev/null || true
    done
}

@test "-t is each command's own, on a hop another command is connecting" {
    local nap=40.$RANDOM$RANDOM chain t0 t1 first
    chain=$(hang_hop "$nap")
    mitogen-run --persist -t 20 "$chain" true 2>"$MG_TMP/first.err" &
    first=$!
    wait_hang "$nap"
    t0=$(date +%s%N)
    run_mg_sep 255 mitogen-run --persist -t 1 "$chain" true
    t1=$(date +%s%N)
    assert "$stderr" == "mitogen-run: $chain: connect timed out" "the second command's own limit"
    if (((t1 - t0) / 1000000 > 5000)); then
        die "took $(((t1 - t0) / 1000000)) ms: -t 1 waited for the first command's -t 20"
    fi
    kill -0 "$first"
    kill "$first"
    wait "$first" || true
    teardown_hang "$nap"
}

@test "-t longer than that of the command connecting the hop: the hop is tried again within it" {
    # The stand-in hangs the first time, and logs in after.
    local nap=40.$RANDOM$RANDOM chain first rc=0
    printf '#!/bin/sh\nif mkdir "$0.tried" 2>/dev/null; then exec sleep %s; fi\nfor last; do :; done\nexec /bin/sh -c "$last"\n' \
        "$nap" >"$MG_TMP/flaky"
    chmod +x "$MG_TMP/flaky"
    chain="ssh:h?ssh_path=${MG_TMP//\//%2F}%2Fflaky"
    timeout 30 mitogen-run --persist -t 2 "$chain" true 2>"$MG_TMP/first.err" &
    first=$!
    # Its -t 2 may end the hang before a look sees it (a loaded CI
    # machine did): the stand-in's mark says it started.
    wait_file "$MG_TMP/flaky.tried" || die "the first try did not start"
    run_mg_sep mitogen-run --persist -t 20 "$chain" echo second
    assert "$output" == "second" "the second command's own limit: a try of its own after 2 s"
    wait "$first" || rc=$?
    assert "$rc" == 255 "the first command gave up at its -t 2"
    assert "$(cat "$MG_TMP/first.err")" == "mitogen-run: $chain: connect timed out" "and said so"
    teardown_hang "$nap"
}

@test "a command stopped while its hop connects: the hop is stopped, unless another waits" {
    local nap=41.$RANDOM$RANDOM chain client other i
    chain=$(hang_hop "$nap")
    mitogen-run --persist -t 20 "$chain" true 2>"$MG_TMP/client.err" &
    client=$!
    for ((i = 0; i < 200; i++)); do
        [[ -z $(pgrep -f -x -- "sleep $nap") ]] || break
        sleep 0.05
    done
    mitogen-run --persist -t 20 "$chain" true 2>/dev/null &
    other=$!
    sleep 0.5
    kill -TERM "$client"
    local rc=0
    wait "$client" || rc=$?
    assert "$rc" == 143 "the stopped command's status"
    assert "$(cat "$MG_TMP/client.err")" == "mitogen-run: $chain: interrupted" "what it said"
    sleep 1
    assert "$(pgrep -f -x -- "sleep $nap")" != "" "another command waits: the hop goes on"
    kill -TERM "$other"
    wait "$other" || true
    for ((i = 0; i < 100; i++)); do
        [[ -n $(pgrep -f -x -- "sleep $nap") ]] || break
        sleep 0.05
    done
    local left
    left=$(pgrep -f -x -- "sleep $nap" || true)
    teardown_hang "$nap"
    assert "$left" == "" "no command waits: the hop was stopped, as without --persist"
    run_mg mitogen-run --persist local 'echo still'
}

@test "the holder's socket appears at its path only once it is 0600 and listening" {
    command -v strace >/dev/null || skip "needs strace"
    # bind() makes a socket by the umask (0755): one of sixteen clients
    # starting at once (the test below) found it so before the chmod and
    # refused it as open to others. It is bound under a name of its own
    # and renamed into place. strace -f waits for the holder's idle end.
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        strace -f -qq -e trace=bind,chmod,listen,rename -o "$MG_TMP/trace" \
        mitogen-run --persist=1s local true
    run grep -E '^[0-9]+ +(bind|chmod|listen|rename)\(' "$MG_TMP/trace"
    local tmp="$SOCK.[0-9]+"
    assert "$output" =~ "bind\([0-9]+, \{sa_family=AF_UNIX, sun_path=\"$tmp\"\}" "bound under its own name"
    assert "$output" !~ "sun_path=\"$SOCK\"\}" "never bound at the path itself"
    assert "$(grep -oE '(chmod|listen|rename)\(' <<<"$output" | tr -d '(' | tr '\n' ' ')" == \
        "chmod listen rename " "0600 and listening before it is renamed into place"
    assert "$output" =~ "rename\(\"$tmp\", \"$SOCK\"\)" "renamed to the path"
}

@test "a stopped client never delays another; 16 starting at once share one holder" {
    mitogen-run --persist local yes >/dev/null &
    local hog=$!
    sleep 0.5
    kill -STOP "$hog"
    run_mg mitogen-run --persist local 'echo through'
    assert "$output" == "through" "served while another client is stopped"
    kill -9 "$hog"
    local pid
    pid=$(holder_pid)
    kill "$pid"
    wait_gone "$pid"
    local i
    for ((i = 0; i < 16; i++)); do
        timeout 20 mitogen-run --persist local/local 'echo $PPID' >"$MG_TMP/par.$i" 2>&1 &
    done
    wait
    run sort -u "$MG_TMP"/par.*
    assert "${#lines[@]}" == 1 "all sixteen ran under one agent of one holder: $output"
}

@test "a holder out of descriptors does not spin, and accepts again once they are free" {
    # 60 connections against a limit of 40 descriptors: accept fails
    # with EMFILE while the rest wait in the backlog, the socket still
    # readable. The holder retried at once, at full CPU, for as long as
    # they waited (about 250 of 400 ticks here).
    (ulimit -n 40; mitogen-run --persist local true)
    local holder t0 t1
    holder=$(holder_pid)
    t0=$(awk '{print $14 + $15}' "/proc/$holder/stat")
    python3 -c '
import socket, sys, time
held = []
for i in range(60):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    held.append(s)
time.sleep(4)' "$SOCK"
    t1=$(awk '{print $14 + $15}' "/proc/$holder/stat")
    echo "holder CPU: $((t1 - t0)) ticks"
    assert "$((t1 - t0))" -lt 80 "ticks of CPU the holder used while out of descriptors"
    run_mg mitogen-run --persist local echo ok
    assert "$output" == "ok" "a command through the holder afterwards"
    assert "$(holder_pid)" == "$holder" "the same holder"
}

@test "a client whose reader stops keeps its run, however many targets' windows wait" {
    # Each target may send a window (2 MiB) ahead of the reader; 40 of
    # them (80 MiB) waited in the holder past its 64 MiB "not reading"
    # limit, which dropped the client: 255, "persist.sock lost".
    local targets="" i
    for ((i = 1; i <= 40; i++)); do
        targets+="local?remote_name=t$i,"
    done
    run_mg mitogen-run --persist local true
    mkfifo "$MG_TMP/fifo"
    exec 5<>"$MG_TMP/fifo"
    cat "$MG_TMP/fifo" >"$MG_TMP/out" 5>&- 3>&- &
    local reader=$!
    kill -STOP "$reader"
    mitogen-run --persist -n -N -w "${targets%,}" -- 'yes "$(printf %0999d 0)" | head -n 3000' \
        >"$MG_TMP/fifo" 2>"$MG_TMP/err" 5>&- 3>&- &
    local client=$!
    # Until the holder holds some 64 MiB for it (every window filled;
    # sooner in a sanitizer build, whose RSS means little), 30 s at most.
    local holder i
    holder=$(holder_pid)
    for ((i = 0; i < 300; i++)); do
        (($(awk '/^VmRSS/ { print $2 }' "/proc/$holder/status") > 70000)) && break
        sleep 0.1
    done
    kill -CONT "$reader"
    local rc=0
    wait "$client" || rc=$?
    exec 5>&-
    wait "$reader"
    assert "$rc" -eq 0 "the run ended well: $(head -3 "$MG_TMP/err")"
    assert "$(wc -c <"$MG_TMP/out")" -eq 120000000 "all of every target's output came"
}

@test "a hop's password is asked on the command's terminal, once for the chain's life" {
    if ! command -v script >/dev/null; then
        skip "needs script(1) (bsdutils) to give mitogen-run a terminal"
    fi
    local doas out
    doas=$MG_SRC_DIR/tests/stubs/doas doas=${doas//\//%2F}
    export MG_STUB_DOAS_PASSWORD=pw-$RANDOM MG_STUB_LOG=$MG_TMP/doas.log
    # The holder has no terminal: the command that needs the hop asks on its own.
    out=$( (sleep 1; printf '%s\n' "$MG_STUB_DOAS_PASSWORD") | timeout "$(mg_secs 30)" script -qec \
        "mitogen-run --persist 'local/doas?doas_path=$doas' 'echo ran \$THIS_IS_STUB_DOAS'" /dev/null 2>&1) || true
    echo "$out"
    assert "$out" =~ "\\[doas\\?doas_path=.* on local\\] password: " "the prompt names the hop"
    assert "$out" =~ "ran 1" "the command ran through the stub"
    # No terminal now: the held hop needs no password.
    run_mg_sep setsid -w mitogen-run --persist "local/doas?doas_path=$doas" 'echo again' </dev/null
    assert "$output" == "again" "the second command"
    assert "$(wc -l <"$MG_STUB_LOG")" == 1 "doas ran once: the password was asked once"
}

@test "a hop's password is asked of the command waiting for it, not of a newer one" {
    if ! command -v script >/dev/null; then
        skip "needs script(1) (bsdutils) to give mitogen-run a terminal"
    fi
    local doas a b rc=0
    doas=$MG_SRC_DIR/tests/stubs/doas doas=${doas//\//%2F}
    export MG_STUB_DOAS_PASSWORD=pw-$RANDOM MG_STUB_DOAS_DELAY=2
    run_mg setsid -w mitogen-run --persist local true </dev/null
    # A needs the password; doas asks 2 s after A asked for the chain.
    (sleep 4.5; printf '%s\n' "$MG_STUB_DOAS_PASSWORD") | timeout "$(mg_secs 60)" script -qec \
        "mitogen-run --persist -t 25 'local/doas?doas_path=$doas' 'echo ran \$THIS_IS_STUB_DOAS'" \
        /dev/null >"$MG_TMP/a" 2>&1 3>&- &
    a=$!
    # B attaches after A, on a terminal nobody types on, and only runs a
    # command of its own: the newest client, asked first until now, so
    # that A waited for its connect timeout.
    sleep 0.5
    sleep 7 | timeout "$(mg_secs 60)" script -qec \
        "mitogen-run --persist local 'sleep 5; echo b done'" /dev/null >"$MG_TMP/b" 2>&1 3>&- &
    b=$!
    wait "$a" || rc=$?
    cat "$MG_TMP/a"
    assert "$rc" -eq 0 "A's run ended well"
    assert "$(cat "$MG_TMP/a")" =~ "\\[doas\\?doas_path=.* on local\\] password: " "A was asked"
    assert "$(cat "$MG_TMP/a")" =~ "ran 1" "A's command ran through doas"
    wait "$b" || true
    assert "$(tr -d '\r' <"$MG_TMP/b")" == "b done" "B was not asked, and ran its own command"
}

@test "no terminal anywhere: a hop that asks fails at once and says what to do" {
    local doas
    doas=$MG_SRC_DIR/tests/stubs/doas doas=${doas//\//%2F}
    export MG_STUB_DOAS_PASSWORD=pw-$RANDOM
    run_mg_sep 255 setsid -w mitogen-run --persist "local/doas?doas_path=$doas" true </dev/null
    assert "$stderr" =~ "doas password is required \\(no command attached to the holder has a terminal" \
        "why, and what to do"
    assert "$stderr" =~ "password_file=" "what to do"
}
