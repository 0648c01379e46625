#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the inner shells
#
# fakessh run CHAIN -- PROGRAM: the chain set up once, every ssh PROGRAM
# starts attached to it (host '.' = the chain's end, another host reached
# over ssh from there), PROGRAM's exit status, and nothing left behind.

load helpers
load sshd

function setup_file() {
    start_sshd
}

function teardown_file() {
    stop_sshd
}

# A runtime directory of each test's own: meson runs other files' fakessh
# runs beside these, and their socket directories are not ours to count.
function setup() {
    basic_setup
    mkdir -m 700 "$MG_TMP/run"
    export XDG_RUNTIME_DIR=$MG_TMP/run
}

# A tree with awkward names: blanks, quotes, $(), a newline, a non-UTF-8
# byte, and a binary file.
function make_tree() {
    local d=$1
    mkdir -p "$d/sub dir"
    printf 'a\n' >"$d/with space"
    printf 'b\n' >"$d/it's \"quoted\""
    printf 'c\n' >"$d/\$(touch pwned)"
    printf 'd\n' >"$d/new"$'\n'"line"
    printf 'e\n' >"$d/latin1-"$'\xe9'
    head -c 300000 /dev/urandom >"$d/sub dir/blob"
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

# The socket directories of runs: none may be left.
function run_dirs() {
    local base=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/mitogen}
    base=${base:-/tmp/mitogen-$(id -u)}
    ls -d "$base"/fakessh-* 2>/dev/null || true
}

@test "fakessh run: '.' is the chain's end, one hop for every ssh, PROGRAM's status" {
    local before
    before=$(run_dirs)
    run_mg_sep 5 fakessh run local -- sh -c '
        test "$(command -v ssh)" = "${MITOGEN_FAKESSH_SOCKET%/sock}/bin/ssh" || exit 90
        ssh . "echo \$PPID"; fakessh . "echo \$PPID"; ssh . "exit 3"; echo "rc $?"; exit 5'
    assert "${#lines[@]}" -eq 3 "two agent pids and a status: $output"
    assert "${lines[0]}" == "${lines[1]}" "ssh and fakessh ran under the same agent"
    assert "${lines[2]}" == "rc 3" "ssh's status is the remote one"
    assert "$stderr" == "" "nothing on stderr"
    assert "$(run_dirs)" == "$before" "the socket directory went with the run"
    # A signal: 128+N.
    run_mg_sep 143 fakessh run local -- sh -c 'kill -TERM $$'
}

@test "fakessh run: two rsyncs at once, ssh from PATH and -e fakessh, hostile names" {
    skip_if_no_program rsync
    make_tree "$MG_TMP/src"
    run_mg_sep fakessh run local -- sh -c '
        rsync -a --delete "$1/src/" ".:$1/d1/" & p=$!
        rsync -a -e fakessh "$1/src/" ".:$1/d2/" & q=$!
        wait $p || exit 1; wait $q || exit 2
        rsync -a ".:$1/d2/" "$1/pulled/"' sh "$MG_TMP"
    local d
    for d in d1 d2 pulled; do
        diff -r "$MG_TMP/src" "$MG_TMP/$d" || die "$d differs from the source"
    done
    [[ ! -e $MG_TMP/src/pwned && ! -e pwned ]] || die "a file name was run"
}

@test "fakessh run: scp -S fakessh, SFTP and legacy (-O) modes" {
    skip_if_no_program scp
    make_tree "$MG_TMP/src"
    # scp's legacy protocol itself cannot carry a newline in a name.
    cp -a "$MG_TMP/src" "$MG_TMP/old"
    rm "$MG_TMP/old/new"$'\n'"line"
    mkdir "$MG_TMP/d1" "$MG_TMP/d2"
    run_mg_sep fakessh run local -- sh -c '
        scp -q -r -S fakessh "$1/src" ".:$1/d1/" || exit 1
        scp -q -r -O -S fakessh "$1/old" ".:$1/d2/"' sh "$MG_TMP"
    diff -r "$MG_TMP/src" "$MG_TMP/d1/src" || die "scp (SFTP): trees differ"
    diff -r "$MG_TMP/old" "$MG_TMP/d2/old" || die "scp -O: trees differ"
}

@test "fakessh run: git clone with ssh from PATH and GIT_SSH_COMMAND=fakessh" {
    skip_if_no_program git
    git init -q --bare "$MG_TMP/repo.git"
    git -C "$MG_TMP" clone -q "$MG_TMP/repo.git" work 2>/dev/null
    git -C "$MG_TMP/work" -c user.email=t@t -c user.name=t commit -q --allow-empty -m first
    git -C "$MG_TMP/work" push -q origin HEAD:master
    run_mg_sep fakessh run local -- git clone -q ".:$MG_TMP/repo.git" "$MG_TMP/c1"
    GIT_SSH_COMMAND=fakessh run_mg_sep fakessh run local -- \
        git clone -q "ssh://.$MG_TMP/repo.git" "$MG_TMP/c2"
    local d
    for d in c1 c2; do
        assert "$(git -C "$MG_TMP/$d" log --format=%s)" == "first" "$d has the commit"
    done
}

@test "fakessh run: another host is reached over ssh from the chain's end, once" {
    need_sshd
    run_mg_sep fakessh run local -- sh -c '
        for i in 1 2; do
            ssh -F "$1" -p "$2" -l root 127.0.0.1 "echo \$PPID \$(id -un)" || exit 1
        done' sh "$MG_SSH_CONFIG" "$MG_SSH_PORT"
    assert "${#lines[@]}" -eq 2 "two answers: $output"
    assert "${lines[0]}" =~ " root$" "logged in through the private sshd"
    assert "${lines[0]}" == "${lines[1]}" "the ssh hop was connected once and reused"
}

@test "fakessh run: a client killed mid-command stops its far command, the chain stays" {
    run_mg_sep fakessh run local -- sh -c '
        ssh . "echo \$\$ >$1/rpid; exec sleep 60" & c=$!
        i=0; while [ ! -s "$1/rpid" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
        kill -9 $c
        r=$(cat "$1/rpid"); i=0
        while kill -0 "$r" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
        kill -0 "$r" 2>/dev/null && echo "still running" || echo stopped
        ssh . echo up' sh "$MG_TMP"
    assert "${lines[0]}" == "stopped" "the far sleep ended with its client"
    assert "${lines[1]}" == "up" "the chain still serves the next ssh"
}

@test "fakessh run: PROGRAM killed: its ssh and far commands stop, the socket goes" {
    local before
    before=$(run_dirs)
    # PROGRAM starts a far sleep through ssh, then is killed.
    run_mg_sep 137 fakessh run local -- sh -c '
        echo "$MITOGEN_FAKESSH_SOCKET" >"$1/sock"
        ssh . "echo \$\$ >$1/rpid; exec sleep 60" & echo $! >"$1/cpid"
        i=0; while [ ! -s "$1/rpid" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
        kill -9 $$' sh "$MG_TMP"
    [[ ! -e $(cat "$MG_TMP/sock") ]] || die "the socket is left"
    assert "$(run_dirs)" == "$before" "the socket directory went with the run"
    wait_gone "$(cat "$MG_TMP/rpid")" || die "the far sleep outlived the run"
    wait_gone "$(cat "$MG_TMP/cpid")" || die "the orphaned ssh outlived the run"
}

@test "fakessh run: a stale or foreign socket is refused" {
    python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
        "$MG_TMP/stale"
    MITOGEN_FAKESSH_SOCKET=$MG_TMP/stale MITOGEN_FAKESSH_CHAIN=local \
        run_mg_sep 255 fakessh . true
    assert "$stderr" =~ "cannot attach to $MG_TMP/stale: .*refused" "nobody listens there"

    skip_if_not_root "a listener of another uid needs setpriv as root"
    skip_if_no_program setpriv
    # The system's python: another user may not reach a private one.
    [[ -x /usr/bin/python3 ]] || skip "no /usr/bin/python3 for another user"
    local dir
    dir=$(mktemp -d)
    chmod 0777 "$dir"
    setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4); time.sleep(30)' \
        "$dir/sock" 3>/dev/null &
    local pid=$! i
    for ((i = 0; i < 100; i++)); do
        [[ -S $dir/sock ]] && break
        sleep 0.05
    done
    [[ -S $dir/sock ]] || die "the other user's listener did not start"
    MITOGEN_FAKESSH_SOCKET=$dir/sock MITOGEN_FAKESSH_CHAIN=local \
        run_mg_sep 255 fakessh . true
    kill "$pid"
    wait "$pid" || true
    rm -rf "$dir"
    assert "$stderr" =~ "refused: listener uid 65534 is not our uid 0" "another user's socket"
}

@test "fakessh run: an XDG_RUNTIME_DIR another user could rename in is not used" {
    skip_if_not_root "a directory of another uid needs chown as root"
    # Another user who may rename entries there could swap our directory
    # for one of theirs mid-run, and have us unlink their symlinks' targets.
    local xdg
    for xdg in "$MG_TMP/theirs" "$MG_TMP/open"; do
        mkdir -m 0700 "$xdg"
    done
    chown 65534 "$MG_TMP/theirs"
    chmod 0777 "$MG_TMP/open"
    for xdg in "$MG_TMP/theirs" "$MG_TMP/open"; do
        XDG_RUNTIME_DIR=$xdg run_mg_sep fakessh run local -- sh -c 'echo "$MITOGEN_FAKESSH_SOCKET"'
        assert "$output" =~ "^/tmp/mitogen-$(id -u)/fakessh-[^/]*/sock$" "$xdg: /tmp/mitogen-UID instead"
        assert "$(ls -A "$xdg")" == "" "$xdg: nothing made in it"
    done
    # Ours, or shared but sticky (as /tmp): used.
    mkdir -m 1777 "$MG_TMP/sticky"
    XDG_RUNTIME_DIR=$MG_TMP/sticky run_mg_sep fakessh run local -- sh -c 'echo "$MITOGEN_FAKESSH_SOCKET"'
    assert "$output" =~ "^$MG_TMP/sticky/mitogen/fakessh-[^/]*/sock$" "a sticky directory is used"
}

@test "fakessh run: a socket directory PATH cannot hold (a ':' in it) is refused" {
    # Put first in PATH, .../c:d/mitogen/fakessh-X/bin split in two: the
    # real ssh ran, bypassing the chain, and PATH gained .../c and a
    # relative entry.
    mkdir -m 0700 "$MG_TMP/c:d"
    XDG_RUNTIME_DIR=$MG_TMP/c:d run_mg_sep 255 fakessh run local -- sh -c 'command -v ssh'
    assert "$output" == "" "PROGRAM did not run"
    assert "$stderr" =~ "c:d/mitogen.*':'" "says why"
    assert "$(ls -A "$MG_TMP/c:d/mitogen")" == "" "nothing left"
}

@test "fakessh run: a socket directory too long, or holding a ':', is refused before the chain connects" {
    # Found after the chain: its prompts, its connect time and its errors
    # all came first. ssh:127.0.0.1:1 is refused at once; with the check
    # first, that hop is never started and only the path is named.
    local long=$MG_TMP/$(printf 'd%.0s' {1..100})
    mkdir -m 0700 "$long" "$MG_TMP/e:f"
    XDG_RUNTIME_DIR=$long run_mg_sep 255 fakessh run -t 5 ssh:127.0.0.1:1 -- true
    assert "$stderr" =~ "too long for a UNIX socket" "says why"
    assert "$stderr" !~ "127\.0\.0\.1" "the hop never started"
    assert "$(ls -A "$long/mitogen")" == "" "nothing left"
    XDG_RUNTIME_DIR=$MG_TMP/e:f run_mg_sep 255 fakessh run -t 5 ssh:127.0.0.1:1 -- true
    assert "$stderr" =~ "':'" "says why"
    assert "$stderr" !~ "127\.0\.0\.1" "the hop never started"
}

@test "fakessh run: usage errors exit 2, a chain that fails 255 naming the hop" {
    run_mg_sep 0 fakessh run --help
    assert "$output" =~ "^Usage: fakessh run" "usage on stdout"
    local args
    for args in "" "local" "--bogus local -- true" "local,local -- true" "-t x local -- true"; do
        # shellcheck disable=SC2086 # split on purpose
        run_mg_sep 2 fakessh run $args
        assert "${#stderr_lines[@]}" -eq 1 "'$args': a one-line hint"
        assert "$stderr" =~ "^fakessh run: " "'$args': names the command"
    done
    run_mg_sep 2 fakessh run 'local?debug=maybe' -- true
    assert "$stderr" =~ "local\?debug=maybe': column 7: option debug: " "a bad value: the chain and the column are named"
    run_mg_sep 127 fakessh run local -- /nonexistent/program
    assert "$stderr" =~ "/nonexistent/program: No such file" "PROGRAM not found"
}


@test "fakessh run ssh:H: another host is reached by an ssh started at the chain's end" {
    need_sshd
    # The inner host's ssh logs to a file named for this test; while its
    # command sleeps, find that ssh (the real one, not fakessh as ssh) and
    # name what runs it, up to init.
    run_mg_sep fakessh run "$(ssh_hop root)" -- sh -c '
        ssh -F "$1" -p "$2" -E "$3/inner.log" -l root 127.0.0.1 "sleep 2; echo \$(id -un) inner" & c=$!
        i=0; p=
        while [ -z "$p" ] && [ $i -lt 200 ]; do
            for s in $(pgrep -x ssh); do
                [ "$(readlink "/proc/$s/exe")" != "$4" ] || continue
                tr "\0" " " <"/proc/$s/cmdline" 2>/dev/null | grep -q -- "$3/inner.log" && p=$s
            done
            sleep 0.05; i=$((i+1))
        done
        while [ -n "$p" ] && [ "$p" -gt 1 ]; do
            echo "above $(ps -o comm= -p "$p")"; p=$(ps -o ppid= -p "$p" | tr -d " ")
        done
        wait $c' sh "$MG_SSH_CONFIG" "$MG_SSH_PORT" "$MG_TMP" "$(readlink -f "$(command -v fakessh)")"
    assert "${lines[-1]}" == "root inner" "the inner host answered"
    assert "${lines[0]}" == "above ssh" "its ssh was found: $output"
    assert "$output" =~ $'\nabove sshd\n' "started under the chain's sshd: $output"
    [[ $output != *"above fakessh"* ]] || die "started here, under fakessh run: $output"
}
