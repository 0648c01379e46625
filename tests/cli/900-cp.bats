#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
#
# mitogen-cp (issue 9): push and pull of files and trees over local,
# local/local, ssh and sudo hops; cp's rules for DEST; -p and -a; atomic
# writes (a full disk, kill -9 mid-copy: the old file intact, no temporary
# file); bad input (missing, unreadable, special files, permission denied,
# a file where a directory is needed); hostile names; a hostile far end
# (tests/stubs/hostile/file-evil) that never gets anything written outside
# DEST; many targets.

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

# A small tree with a subdirectory, an empty file and a binary file.
function make_tree() {
    local d=$1
    mkdir -p "$d/sub/deeper"
    printf 'alpha\n' >"$d/a"
    : >"$d/empty"
    head -c 300000 /dev/urandom >"$d/sub/bin"
    printf 'deep\n' >"$d/sub/deeper/f"
}

# No temporary file of ours anywhere under DIR.
function assert_no_temp() {
    local left
    left=$(find "$1" -name '.mgcp.*' 2>/dev/null)
    assert "$left" == "" "no temporary file left under $1"
}

# A hop's -v line on our stderr (PATTERN, then the assertion's words).
# With MITOGEN_PERSIST the hops log to the holder's file instead, and
# 845-persist-rerun checks the copy itself.
function assert_hop_log() {
    [[ -n ${MITOGEN_PERSIST:-} ]] && return 0
    assert "$stderr" =~ "$1" "$2"
}

@test "cp: push and pull one file over local and local/local" {
    local chain
    printf 'hello\n' >"$MG_TMP/src"
    mkdir "$MG_TMP/d"
    for chain in local local/local; do
        run_mg mitogen-cp "$MG_TMP/src" "$chain:$MG_TMP/d/copy"
        assert "$(cat "$MG_TMP/d/copy")" == "hello" "$chain: pushed as DEST"
        run_mg mitogen-cp "$MG_TMP/src" "$chain:$MG_TMP/d"
        assert "$(cat "$MG_TMP/d/src")" == "hello" "$chain: pushed into the directory DEST"
        rm "$MG_TMP/d/copy"
        run_mg mitogen-cp "$chain:$MG_TMP/src" "$MG_TMP/d/copy"
        assert "$(cat "$MG_TMP/d/copy")" == "hello" "$chain: pulled"
        rm -f "$MG_TMP/d/"*
    done
    assert_no_temp "$MG_TMP"
}

@test "cp: -vv after a push of several windows: no late credit 'for an unknown handle'" {
    local chain
    # 5 MiB: more than two windows, so credit is still coming back
    # when the sender has sent its end.
    head -c $((5 << 20)) /dev/urandom >"$MG_TMP/big"
    mkdir "$MG_TMP/d"
    for chain in local local/local; do
        run_mg_sep mitogen-cp -vv "$MG_TMP/big" "$chain:$MG_TMP/d/copy"
        assert "$stderr" !~ "unknown handle" "$chain"
        run cmp "$MG_TMP/big" "$MG_TMP/d/copy"
        assert "$status" -eq 0 "$chain: the same bytes"
    done
}

@test "cp: -vv after a pull or a chain-to-chain copy of several windows: no late credit 'for an unknown handle'" {
    local pair n=0
    # The source's file.pull ends when it has sent its end; the
    # receiver's credit for the last window comes after.
    head -c $((5 << 20)) /dev/urandom >"$MG_TMP/big"
    mkdir "$MG_TMP/d"
    for pair in "local:$MG_TMP/big $MG_TMP/d/c" \
                "local:$MG_TMP/big local/local:$MG_TMP/d/c" \
                "local:$MG_TMP/big local:$MG_TMP/d/c" \
                "local:$MG_TMP/big fork:$MG_TMP/d/c"; do
        n=$((n + 1))
        # shellcheck disable=SC2086 # two words: SOURCE DEST
        run_mg_sep mitogen-cp -vv $pair$n
        assert "$stderr" !~ "unknown handle" "$pair"
        run cmp "$MG_TMP/big" "$MG_TMP/d/c$n"
        assert "$status" -eq 0 "$pair: the same bytes"
    done
}

@test "cp: -r pushes and pulls a tree; without -r a directory is refused" {
    make_tree "$MG_TMP/t"
    run_mg mitogen-cp -r "$MG_TMP/t" "local/local:$MG_TMP/pushed"
    run diff -r "$MG_TMP/t" "$MG_TMP/pushed"
    assert "$status" -eq 0 "the pushed tree is the same: $output"
    mkdir "$MG_TMP/into"
    run_mg mitogen-cp -r "local:$MG_TMP/t" "$MG_TMP/into"
    run diff -r "$MG_TMP/t" "$MG_TMP/into/t"
    assert "$status" -eq 0 "the pulled tree is the same: $output"

    run_mg_sep 1 mitogen-cp "$MG_TMP/t" "local:$MG_TMP/nodir"
    assert "$stderr" =~ "t: is a directory \(not copied without -r\)" "why"
    assert "$(ls "$MG_TMP")" !~ "nodir" "nothing made"
}

@test "cp: -p keeps mode and times; without it a replaced file keeps its mode" {
    printf 'x\n' >"$MG_TMP/f"
    chmod 640 "$MG_TMP/f"
    touch -d '2001-02-03 04:05:06' "$MG_TMP/f"
    run_mg mitogen-cp -p "$MG_TMP/f" "local:$MG_TMP/kept"
    assert "$(stat -c '%a %Y' "$MG_TMP/kept")" == "$(stat -c '%a %Y' "$MG_TMP/f")" "-p: mode and mtime"

    printf 'old\n' >"$MG_TMP/old"
    chmod 600 "$MG_TMP/old"
    chmod 755 "$MG_TMP/f"
    run_mg mitogen-cp "$MG_TMP/f" "local:$MG_TMP/old"
    assert "$(cat "$MG_TMP/old")" == "x" "replaced"
    assert "$(stat -c '%a' "$MG_TMP/old")" == "600" "the replaced file keeps its mode"
    assert "$(stat -c '%Y' "$MG_TMP/old")" != "$(stat -c '%Y' "$MG_TMP/f")" "no -p: a new mtime"

    (umask 022 && run_mg mitogen-cp "$MG_TMP/f" "local:$MG_TMP/new")
    assert "$(stat -c '%a' "$MG_TMP/new")" == "755" "a new file: the source's mode less the umask"
}

@test "cp: -a copies symlinks as symlinks, hard links as links, sparse files with holes" {
    mkdir "$MG_TMP/t"
    printf 'target\n' >"$MG_TMP/t/file"
    ln -s file "$MG_TMP/t/rel-link"
    ln -s /etc/passwd "$MG_TMP/t/abs-link"
    ln "$MG_TMP/t/file" "$MG_TMP/t/hard"
    truncate -s 64M "$MG_TMP/t/sparse"
    printf 'end' >>"$MG_TMP/t/sparse"
    run_mg mitogen-cp -a "$MG_TMP/t" "local/local:$MG_TMP/copy"
    assert "$(readlink "$MG_TMP/copy/rel-link")" == "file" "a relative symlink"
    assert "$(readlink "$MG_TMP/copy/abs-link")" == "/etc/passwd" "a symlink out of the tree, kept as it is"
    assert "$(stat -c %i "$MG_TMP/copy/hard")" == "$(stat -c %i "$MG_TMP/copy/file")" "hard links stay one file"
    cmp "$MG_TMP/t/sparse" "$MG_TMP/copy/sparse" || die "the sparse file differs"
    assert "$(du -k "$MG_TMP/copy/sparse" | cut -f1)" -lt 1024 "holes kept (du in KiB)"

    # Without -a a symlink is followed, as scp does.
    run_mg mitogen-cp -r "$MG_TMP/t" "local:$MG_TMP/followed"
    assert "$(stat -c %F "$MG_TMP/followed/rel-link")" == "regular file" "followed"
}

@test "cp: missing source, unreadable file, special files: exit 1, the rest copied" {
    need_users
    chmod 755 "$MG_TMP"
    mkdir "$MG_TMP/t"
    printf 'ok\n' >"$MG_TMP/t/ok"
    printf 'secret\n' >"$MG_TMP/t/secret"
    chmod 600 "$MG_TMP/t/secret"
    mkfifo "$MG_TMP/t/fifo"
    mkdir "$MG_TMP/t/closed"
    printf 'in\n' >"$MG_TMP/t/closed/in"
    chmod -R go+rX "$MG_TMP/t"
    chmod 600 "$MG_TMP/t/secret"
    chmod 700 "$MG_TMP/t/closed"
    mkdir -m 777 "$MG_TMP/out"

    run_mg_sep 1 mitogen-cp -r "sudo:mgtest_a:$MG_TMP/t" "sudo:mgtest_a:$MG_TMP/nosuch" "$MG_TMP/out"
    assert "$stderr" =~ "sudo:mgtest_a: $MG_TMP/nosuch: No such file or directory" "a missing source, named with its chain"
    assert "$stderr" =~ "sudo:mgtest_a: $MG_TMP/t/secret: Permission denied" "an unreadable file"
    assert "$stderr" =~ "$MG_TMP/t/fifo: not a regular file" "a fifo refused"
    assert "$(cat "$MG_TMP/out/t/ok")" == "ok" "the readable file arrived"
    assert "$stderr" =~ "sudo:mgtest_a: $MG_TMP/t/closed: Permission denied" "an unreadable directory"
    assert "$(ls -A "$MG_TMP/out/t/closed")" == "" "made there, empty, as cp -r and rsync make it"
    [[ -d $MG_TMP/out/t/closed ]] || die "the unreadable directory is made"
    [[ ! -e $MG_TMP/out/t/secret && ! -e $MG_TMP/out/t/fifo ]] || die "nothing in place of the failures"

    run_mg_sep 1 mitogen-cp /dev/null "local:$MG_TMP/out/null"
    assert "$stderr" =~ "/dev/null: not a regular file" "a device refused"
}

@test "cp: a directory to a DEST/ that is not there is made as its copy, as cp -r and scp -r do" {
    local chain
    mkdir -p "$MG_TMP/d/sub" "$MG_TMP/out"
    printf 'a\n' >"$MG_TMP/d/sub/a"
    for chain in local local/local; do
        run_mg mitogen-cp -r "$MG_TMP/d" "$chain:$MG_TMP/out/new-$chain/"
        assert "$(cat "$MG_TMP/out/new-$chain/sub/a")" == "a" "$chain: pushed as DEST/"
        run_mg mitogen-cp -r "$chain:$MG_TMP/d" "$MG_TMP/out/pulled-$chain//"
        assert "$(cat "$MG_TMP/out/pulled-$chain/sub/a")" == "a" "$chain: pulled as DEST//"
    done
    run_mg_sep 1 mitogen-cp -r "$MG_TMP/d" "$MG_TMP/d/sub/a" "local:$MG_TMP/out/two/"
    assert "$stderr" =~ "$MG_TMP/out/two/: No such file or directory" "two sources: DEST/ must exist"
    [[ ! -e $MG_TMP/out/two ]] || die "nothing made for two sources"
}

@test "cp: x/. and x/.. of a missing x, and an empty SOURCE: No such file or directory, as cp" {
    mkdir "$MG_TMP/out"
    run_mg_sep 1 mitogen-cp -r "$MG_TMP/nosuch/." "local:$MG_TMP/out/"
    assert "$stderr" == "mitogen-cp: $MG_TMP/nosuch/.: No such file or directory" "pushed"
    run_mg_sep 1 mitogen-cp -r "local:$MG_TMP/nosuch/.." "$MG_TMP/out/"
    assert "$stderr" == "mitogen-cp: local: $MG_TMP/nosuch/..: No such file or directory" "pulled"
    run_mg_sep 1 mitogen-cp "" "local:$MG_TMP/out/"
    assert "$stderr" == "mitogen-cp: : No such file or directory" "an empty word"
    run_mg_sep 1 mitogen-cp -r / "local:$MG_TMP/out/"
    assert "$stderr" == "mitogen-cp: /: cannot copy a root directory by its name" "the root, still"
    assert "$(ls -A "$MG_TMP/out")" == "" "nothing copied"
}

@test "cp: a device, fifo or socket where a file goes is kept, not replaced by a file" {
    local d=$MG_TMP/d dev=
    mkdir -p "$d" "$MG_TMP/t"
    printf 'data\n' >"$MG_TMP/f"
    mkfifo "$d/fifo"
    ln -s fifo "$d/to-fifo"
    if is_root; then
        mknod "$d/null" c 1 3
        dev=null
    fi
    local n
    for n in fifo to-fifo $dev; do
        run_mg_sep 1 mitogen-cp "$MG_TMP/f" "local:$d/$n"
        assert "$stderr" =~ "$d/$n: not a regular file \(a device, fifo or socket\): not replaced" "$n"
    done
    # -a: a symlink where a fifo is.
    ln -s f "$MG_TMP/t/fifo"
    run_mg_sep 1 mitogen-cp -a "$MG_TMP/t/fifo" "local:$d/"
    assert "$stderr" =~ "$d/fifo: not a regular file" "-a, a symlink"
    assert "$(stat -c %F "$d/fifo")" == "fifo" "the fifo is still there"
    [[ -z $dev ]] || assert "$(stat -c %F "$d/null")" == "character special file" "the device too"
    assert "$(readlink "$d/to-fifo")" == "fifo" "the symlink to the fifo too"
}

@test "cp: a tree deeper than a path may name: that part said too long, the rest copied" {
    local n i
    n=$(printf 'y%.0s' {1..200})
    mkdir -p "$MG_TMP/deep" "$MG_TMP/out1" "$MG_TMP/out2"
    printf 'a\n' >"$MG_TMP/deep/a"
    printf 'z\n' >"$MG_TMP/deep/z"
    # 25 levels of 200 bytes: over 4 KiB below the top, made a level at a time.
    (cd "$MG_TMP/deep" && for ((i = 0; i < 25; i++)); do mkdir "$n" && cd "$n" || exit 1; done &&
        printf 'f\n' >f) || die "cannot make the deep tree"
    run_mg_sep 1 mitogen-cp -r "$MG_TMP/deep" "local:$MG_TMP/out1/"
    assert "$stderr" =~ "^mitogen-cp: \.\.\.[y/]+: File ?name too long$" "pushed: said, the path's end"
    assert "$(cat "$MG_TMP/out1/deep/a")$(cat "$MG_TMP/out1/deep/z")" == "az" "pushed: the rest copied"
    run_mg_sep 1 mitogen-cp -r "local/local:$MG_TMP/deep" "$MG_TMP/out2/"
    assert "$stderr" =~ "^mitogen-cp: local/local: \.\.\.[y/]+: File ?name too long$" "pulled"
    assert "$(cat "$MG_TMP/out2/deep/a")$(cat "$MG_TMP/out2/deep/z")" == "az" "pulled: the rest copied"
}

@test "cp: permission denied and a file where a directory is needed" {
    need_users
    chmod 755 "$MG_TMP"
    mkdir -m 755 "$MG_TMP/rootonly"
    printf 'x\n' >"$MG_TMP/f"
    chmod 644 "$MG_TMP/f"
    run_mg_sep 1 mitogen-cp "$MG_TMP/f" "sudo:mgtest_a:$MG_TMP/rootonly/f"
    assert "$stderr" =~ "sudo:mgtest_a: $MG_TMP/rootonly/f: Permission denied" "names the chain and the path"
    assert "$(ls -A "$MG_TMP/rootonly")" == "" "nothing left there"

    mkdir "$MG_TMP/t"
    printf 'y\n' >"$MG_TMP/t/y"
    printf 'plain file\n' >"$MG_TMP/file"
    run_mg_sep 1 mitogen-cp -r "$MG_TMP/t" "local:$MG_TMP/file"
    assert "$stderr" =~ "$MG_TMP/file: exists and is not a directory" "a file where the tree goes"
    assert "$(cat "$MG_TMP/file")" == "plain file" "the file is intact"
    run_mg_sep 1 mitogen-cp "$MG_TMP/f" "$MG_TMP/t/y" "local:$MG_TMP/file"
    assert "$stderr" =~ "$MG_TMP/file: Not a directory" "two sources into a file"
    run_mg_sep 1 mitogen-cp "$MG_TMP/f" "local:$MG_TMP/missing/"
    assert "$stderr" =~ "$MG_TMP/missing/: Not a directory" "a file to a DEST/ that is not there, as cp"
    [[ ! -e $MG_TMP/missing ]] || die "nothing made for a file"
    mkdir -p "$MG_TMP/t2/t/y"
    run_mg_sep 1 mitogen-cp -r "$MG_TMP/t" "local:$MG_TMP/t2"
    assert "$stderr" =~ "$MG_TMP/t2/t/y: is a directory" "a file where a directory is"
}

@test "cp: a directory into itself or below itself is refused, as cp does; a symlink into DEST does not loop" {
    local chain d=$MG_TMP/d
    mkdir -p "$d" "$MG_TMP/y"
    printf 'a\n' >"$d/a"
    for chain in local fork local/local; do
        # Pulled into itself: cp refuses; the tree did grow copies of itself.
        run_mg_sep 1 mitogen-cp -r "$chain:$d" "$d"
        assert "$stderr" =~ "$d/d: cannot copy a directory into itself" "$chain: pulled into itself"
        assert "$(find "$d" | sort | tr '\n' ' ')" == "$d $d/a " "$chain: nothing made there"
        run_mg_sep 1 mitogen-cp -r "$d" "$chain:$d/new"
        assert "$stderr" =~ "$d/new: cannot copy a directory into itself" "$chain: pushed below itself, a new name"
        run_mg_sep 1 mitogen-cp -r "$d" "$chain:$MG_TMP/"
        assert "$stderr" =~ "$d: is the source directory itself" "$chain: onto itself"
        assert "$(find "$d" | sort | tr '\n' ' ')" == "$d $d/a " "$chain: nothing made there"
    done
    # Followed (no -a), a symlink to where the copy goes would walk
    # into the copy as it is made.
    ln -s ../y "$d/l"
    run_mg_sep 1 mitogen-cp -r "$d" "local:$MG_TMP/y/"
    assert "$stderr" =~ "$MG_TMP/y/d/l: cannot copy a directory into itself" "through a symlink"
    assert "$(cd "$MG_TMP/y" && find . | sort | tr '\n' ' ')" == ". ./d ./d/a " "the rest copied, once"
    run_mg mitogen-cp -a "$d" "local:$MG_TMP/y/"
    assert "$(readlink "$MG_TMP/y/d/l")" == "../y" "-a: the symlink, as it is"
    # Deeper: a symlink to a directory the copy itself goes through.
    rm -rf "$d/l" "$MG_TMP/y"
    mkdir -p "$d/sub" "$MG_TMP/y/d"
    ln -s ../../y/d "$d/sub/l"
    run_mg_sep 1 mitogen-cp -r "$d" "local:$MG_TMP/y/"
    assert "$stderr" =~ "$MG_TMP/y/d/sub/l: cannot copy a directory into itself" "a directory of the copy"
    assert "$(cd "$MG_TMP/y" && find . | sort | tr '\n' ' ')" == ". ./d ./d/a ./d/sub " "the rest copied, once"
}

@test "cp: a full disk leaves the old file intact and no temporary file" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the holder's agents write outside this test's mount namespace"
    skip_if_not_root "mounts a small tmpfs in a mount namespace of its own"
    skip_if_no_program unshare
    unshare -m true 2>/dev/null || skip "cannot make a mount namespace here"
    local rc=0 err1
    mkdir "$MG_TMP/small"
    head -c 3000000 /dev/urandom >"$MG_TMP/big"
    # The tmpfs lives and dies with a mount namespace of the test's own:
    # nothing stays mounted on the machine, whatever fails. What each
    # copy says and leaves comes out in files beside it.
    LD_LIBRARY_PATH="$MG_BUILD_DIR/lib" unshare -m sh -c '
        mount -t tmpfs -o size=1m tmpfs "$1/small" 2>/dev/null || exit 99
        printf "old\n" >"$1/small/f"
        mitogen-cp "$1/big" "local:$1/small/f" 2>"$1/err1" 3>&-
        echo $? >"$1/rc1"
        ls -A "$1/small" >"$1/left1"
        # Chain to chain, done by the hop the two share.
        mitogen-cp -v "local:$1/big" "local/local:$1/small/f" 2>"$1/err2" 3>&-
        echo $? >"$1/rc2"
        ls -A "$1/small" >"$1/left2"' sh "$MG_TMP" || rc=$?
    [[ $rc -ne 99 ]] || skip "cannot mount a tmpfs here"
    assert "$rc" -eq 0 "the namespace's script ran"
    err1=$(cat "$MG_TMP/err1")
    assert "$(cat "$MG_TMP/rc1")" -eq 1 "exit status 1"
    assert "$err1" =~ "$MG_TMP/small/f: No space left on device" "why, naming the file"
    assert "$(cat "$MG_TMP/left1")" == "f" "only the old file there"
    stderr=$(cat "$MG_TMP/err2")
    assert "$(cat "$MG_TMP/rc2")" -eq 1 "chain to chain: exit status 1"
    assert_hop_log "file.copy" "chain to chain: done by the shared hop"
    assert "$stderr" =~ "local/local: $MG_TMP/small/f: No space left on device" "chain to chain: the hop and the file"
    assert "$(cat "$MG_TMP/left2")" == "f" "chain to chain: only the old file there"
}

@test "cp: a far end under a file size limit: File too large, the old file intact, the agent not killed" {
    skip_if_not_root
    skip_if_no_program sudo
    # The hop's agent runs under ulimit -f, this side not.
    local path=$MG_TMP/limited-sudo hop kb
    kb=$(fsize_limit_kb)
    printf '#!/bin/sh\nulimit -f %d\nexec sudo "$@"\n' "$kb" >"$path"
    chmod +x "$path"
    hop="local/sudo:root?sudo_path=${path//\//%2F}"
    head -c $(((kb + 1024) * 1024)) /dev/urandom >"$MG_TMP/big"
    printf 'old\n' >"$MG_TMP/f"
    run_mg_sep 1 mitogen-cp "$MG_TMP/big" "$hop:$MG_TMP/f"
    assert "$stderr" =~ "$MG_TMP/f: File too large" "the file's error, not a lost connection"
    assert "$(cat "$MG_TMP/f")" == "old" "the old file intact"
}

@test "cp: kill -9 of mitogen-cp mid-copy leaves the old file and nothing else" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the agent is the holder's child"
    local big=$MG_TMP/big m a i
    # 16 GiB of holes: seconds to copy however fast the machine, and
    # with -a no disk space at the far end either.
    truncate -s 16G "$big"
    mkdir "$MG_TMP/d"
    printf 'old\n' >"$MG_TMP/d/big"
    mitogen-cp -a --no-progress "$big" "local:$MG_TMP/d/" 3>/dev/null &
    m=$!
    # Wait for the far agent to hold its new file open, stop it there.
    for ((i = 0; i < 500; i++)); do
        a=$(pgrep -P "$m" | head -1)
        if [[ -n $a ]] && ls -l "/proc/$a/fd" 2>/dev/null | grep -q "$MG_TMP/d/"; then
            break
        fi
        sleep 0.01
    done
    [[ -n $a ]] || die "no agent seen"
    kill -STOP "$a"
    kill -9 "$m"
    wait "$m" || true
    kill -CONT "$a"
    for ((i = 0; i < 500; i++)); do
        kill -0 "$a" 2>/dev/null || break
        sleep 0.01
    done
    assert "$(cat "$MG_TMP/d/big")" == "old" "the old file is intact"
    assert "$(ls -A "$MG_TMP/d")" == "big" "no other file"
}

@test "cp: SIGINT or SIGTERM mid-pull, into a file system without unnamed files: the old file and nothing else" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the copy is the holder's"
    skip_if_not_root "mounts a tmpfs over /proc in a mount namespace of its own"
    skip_if_no_program unshare
    # ASan's runtime reads /proc/self/maps and /proc/PID/task: without
    # /proc the command dies before it starts.
    [[ ${MG_SANITIZE:-none} == none ]] || skip "the sanitizer's runtime needs /proc"
    local big=$MG_TMP/big sig m i rc
    truncate -s 16G "$big"
    mkdir "$MG_TMP/d"
    printf 'old\n' >"$MG_TMP/d/big"
    for sig in INT TERM; do
        # Without /proc/self/fd the receiver (here: this command) writes
        # a named .mgcp.* file, as on NFS; a signal must not leave it.
        env --default-signal=INT,TERM LD_LIBRARY_PATH="$MG_BUILD_DIR/lib" unshare -m sh -c \
            'mount -t tmpfs -o size=64k none /proc && exec mitogen-cp -a --no-progress "$@"' sh \
            "local:$big" "$MG_TMP/d/" 2>"$MG_TMP/err" 3>&- &
        m=$!
        for ((i = 0; i < 500; i++)); do
            [[ -n $(find "$MG_TMP/d" -name '.mgcp.*') ]] && break
            sleep 0.02
        done
        [[ -n $(find "$MG_TMP/d" -name '.mgcp.*') ]] || die "$sig: no temporary file seen: $(cat "$MG_TMP/err")"
        kill -"$sig" "$m"
        rc=0
        wait "$m" || rc=$?
        assert "$rc" -eq $((128 + $(kill -l "$sig"))) "$sig: exit status 128+N"
        assert "$(cat "$MG_TMP/d/big")" == "old" "$sig: the old file is intact"
        assert "$(ls -A "$MG_TMP/d")" == "big" "$sig: no other file"
    done
}

# PID or a process below it has a file open in DIR (a copy writing there).
function writes_in() {
    local p
    ls -l "/proc/$1/fd" 2>/dev/null | grep -qF -- "$2/" && return 0
    for p in $(pgrep -P "$1"); do
        writes_in "$p" "$2" && return 0
    done
    return 1
}

# Once the agent two hops below mitogen-cp PID has a file open in
# $MG_TMP/d/ (5 s at most): sets the caller's $a (the first agent) and
# $a2 (the far one); dies when there is no far agent.
function far_agent_writing() {
    local i
    for ((i = 0; i < 500; i++)); do
        a=$(pgrep -P "$1" | head -1)
        a2=${a:+$(pgrep -P "$a" | head -1)}
        if [[ -n $a2 ]] && ls -l "/proc/$a2/fd" 2>/dev/null | grep -q "$MG_TMP/d/"; then
            break
        fi
        sleep 0.01
    done
    [[ -n $a2 ]] || die "no far agent seen"
}

# mitogen-cp --progress ARGS..., where BIG is a 32 GiB sparse file cut to
# 1 MiB once the copy writes into DEST (SMALL, a small file, goes after
# it) and DEST holds an old BIG: sets $rc, $errs (the lines said, not the
# progress bar) and $sent (the bytes of files its last progress line
# counts: sent for a push, received for a pull or a copy between chains).
function shrink_copy() {
    local big=$MG_TMP/big m i=0 a args=() last
    truncate -s 32G "$big"
    printf 'small\n' >"$MG_TMP/small"
    mkdir -p "$MG_TMP/d"
    printf 'old\n' >"$MG_TMP/d/big"
    for a in "$@"; do
        a=${a//BIG/$big}
        a=${a//SMALL/$MG_TMP/small}
        args+=("${a//DEST/$MG_TMP/d}")
    done
    rc=0
    mitogen-cp --progress "${args[@]}" 3>/dev/null 2>"$MG_TMP/err" &
    m=$!
    until writes_in "$m" "$MG_TMP/d"; do
        ((i++ < 1000)) || die "no copy seen writing in $MG_TMP/d"
        sleep 0.01
    done
    truncate -s 1M "$big"
    wait "$m" || rc=$?
    errs=$(tr '\r' '\n' <"$MG_TMP/err" | sed 's/\x1b\[K//g; s/^[0-9.]* [KMGT]*i*B \/ .*ETA [0-9:]*//' |
        grep -v '^$' | sort)
    last=$(tr '\r' '\n' <"$MG_TMP/err" | sed 's/\x1b\[K//g' | grep -E '^[0-9.]+ [KMGT]?i?B / ' | tail -1)
    [[ $last =~ ^([0-9.]+)\ ([KMGT]?)i?B ]] || die "no progress line in: $(cat -v "$MG_TMP/err")"
    sent=$(awk -v n="${BASH_REMATCH[1]}" -v u="${BASH_REMATCH[2]}" \
        'BEGIN { printf "%.0f", n * 1024 ^ index("KMGT", u) }')
}

# What every shrink_copy must show: the file failed, said once per
# target, the old one intact, no temporary file, SMALL copied after it;
# and not 32 GiB of zeros sent for it (it was, before: 16 GiB took 11 s).
function assert_shrank() {
    local want=$1
    assert "$rc" -eq 1 "exit status"
    assert "$errs" == "$want" "what was said"
    assert "$(cat "$MG_TMP/d/big")" == "old" "the old file is intact"
    assert "$(cat "$MG_TMP/d/small")" == "small" "the file after it is copied"
    assert "$(ls -A "$MG_TMP/d")" == $'big\nsmall' "no other file"
    assert "$sent" -lt "$((4 << 30))" "bytes sent for a 32 GiB file cut to 1 MiB"
}

@test "cp: a source that shrinks while it is read: said at once, the old file intact, the rest copied" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the agent is the holder's child"
    shrink_copy -a BIG SMALL local:DEST/
    assert_shrank "mitogen-cp: local: $MG_TMP/d/big: the source shrank while it was read (not copied)"
}

@test "cp: a source that shrinks while it is read, pulled (-p): said at once" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the agent is the holder's child"
    shrink_copy -p local:BIG local:SMALL DEST/
    assert_shrank "mitogen-cp: $MG_TMP/d/big: the source shrank while it was read (not copied)"
}

@test "cp: a source that shrinks while it is read, relayed to two targets or from chain to chain: said at once" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the agent is the holder's child"
    # file.relay at local: one stream down to both targets.
    shrink_copy -w local/local -w local/fork BIG SMALL :DEST/
    assert_shrank "local+fork: $MG_TMP/d/big: the source shrank while it was read (not copied)
local+local: $MG_TMP/d/big: the source shrank while it was read (not copied)
mitogen-cp: 2 of 2 failed: local+fork,local+local (exit 1)"
    rm -rf "$MG_TMP/d"
    # file.copy at local (the source), -z: frames relayed as they are.
    shrink_copy -a -z local:BIG local:SMALL local/local:DEST/
    assert_shrank "mitogen-cp: local/local: $MG_TMP/d/big: the source shrank while it was read (not copied)"
    rm -rf "$MG_TMP/d"
    # Sharing no hop: the master pulls from one and pushes to the other.
    shrink_copy -p local:BIG local:SMALL fork:DEST/
    assert_shrank "mitogen-cp: fork: $MG_TMP/d/big: the source shrank while it was read (not copied)"
}

@test "cp: a file of /proc or /sys, which tells no size or a page's, is copied as read, as cp copies it" {
    local pid i sys=/sys/devices/system/cpu/online
    mkdir "$MG_TMP/out"
    run_mg mitogen-cp local:/proc/version "$MG_TMP/out/version"
    assert "$(cat "$MG_TMP/out/version")" == "$(cat /proc/version)" "pulled: its bytes, not none"
    run_mg mitogen-cp -z /proc/version "local:$MG_TMP/out/pushed"
    assert "$(cat "$MG_TMP/out/pushed")" == "$(cat /proc/version)" "pushed (-z) the same"
    # Many reads and chunks: an environment of 300 KB.
    local big
    big=$(head -c 100000 /dev/zero | tr '\0' x)
    env A="$big" B="$big" C="$big" sleep 60 &
    pid=$!
    for ((i = 0; i < 500; i++)); do
        [[ $(cat "/proc/$pid/comm") != sleep ]] || break
        sleep 0.01
    done
    run_mg mitogen-cp "local:/proc/$pid/environ" "$MG_TMP/out/environ"
    cmp "/proc/$pid/environ" "$MG_TMP/out/environ" || die "a large one, read to its end"
    kill "$pid"
    if [[ -r $sys ]]; then
        run_mg mitogen-cp -p "local:$sys" "$MG_TMP/out/online"
        assert "$(cat "$MG_TMP/out/online")" == "$(cat "$sys")" "sysfs: what is read, not 'shrank'"
    fi
    # One without end is refused, not read on and on.
    run_mg_sep 1 mitogen-cp local:/proc/self/pagemap "$MG_TMP/out/pagemap"
    assert "$stderr" == "mitogen-cp: local: /proc/self/pagemap: File too large" "said"
    # An empty file stays empty, a small one all holes is its zeros.
    : >"$MG_TMP/empty"
    truncate -s 4096 "$MG_TMP/holes"
    run_mg mitogen-cp "local:$MG_TMP/empty" "local:$MG_TMP/holes" "$MG_TMP/out/"
    assert "$(stat -c %s "$MG_TMP/out/empty")" == "0" "an empty file"
    cmp "$MG_TMP/holes" "$MG_TMP/out/holes" || die "a small file all holes"
    assert_no_temp "$MG_TMP/out"
}

@test "cp: a far end that ends a file early says why; an early end for no file is refused" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the held hop runs the holder's agent, not MITOGEN_AGENT's"
    local stub=$MG_SRC_DIR/tests/stubs/hostile/file-evil
    mkdir -p "$MG_TMP/dest/top"
    printf 'old\n' >"$MG_TMP/dest/top/shrunk"
    MG_FILE_EVIL=cut MITOGEN_AGENT=$stub run_mg_sep 1 mitogen-cp -r local:/top "$MG_TMP/dest/"
    assert "$(cat "$MG_TMP/dest/top/good")" == "good" "a good file arrives"
    assert "$(cat "$MG_TMP/dest/top/after")" == "after" "the file after the one ended early arrives"
    assert "$(cat "$MG_TMP/dest/top/shrunk")" == "old" "the file ended early is not written"
    assert "$stderr" =~ "top/shrunk: the source shrank while it was read \(not copied\)" "why it was not"
    assert "$stderr" =~ "corrupt file stream from the far end" "an early end for no file refused"
    assert "$(ls -A "$MG_TMP/dest/top")" == $'after\ngood\nshrunk' "nothing after the refusal"
}

@test "cp: hostile names (blanks, quotes, \$(), newlines, non-UTF-8) both ways" {
    local names=(' lead' 'a b' "q'uo\"te" '$(touch pwned)' $'new\nline' $'bad\xff\xfe' '-dash')
    local n
    mkdir "$MG_TMP/t"
    for n in "${names[@]}"; do
        printf '%s' "$n" >"$MG_TMP/t/$n"
    done
    run_mg mitogen-cp -r "$MG_TMP/t" "local:$MG_TMP/pushed"
    run_mg mitogen-cp -r "local/local:$MG_TMP/pushed" "$MG_TMP/pulled"
    for n in "${names[@]}"; do
        assert "$(cat "$MG_TMP/pulled/$n")" == "$n" "the file named $(printf %q "$n")"
    done
    [[ ! -e pwned && ! -e $MG_TMP/pwned ]] || die "a name was run as a command"
    # A source named like an option or with a colon, written as a path.
    printf 'c\n' >"$MG_TMP/a:b"
    run_mg mitogen-cp "$MG_TMP/a:b" "local:$MG_TMP/pulled/"
    assert "$(cat "$MG_TMP/pulled/a:b")" == "c" "a colon in a local path"
}

@test "cp: a hostile far end never writes outside DEST" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the held hop runs the holder's agent, not MITOGEN_AGENT's"
    local stub=$MG_SRC_DIR/tests/stubs/hostile/file-evil
    mkdir -p "$MG_TMP/dest" "$MG_TMP/out"
    printf 'keep\n' >"$MG_TMP/outside-file"
    rm -f /tmp/mg-file-evil-abs
    # -a: links are asked for, so the symlink out is made and what
    # comes under it must not go through it.
    MG_FILE_EVIL_OUT=$MG_TMP/out MITOGEN_AGENT=$stub run_mg_sep 1 mitogen-cp -a local:/top "$MG_TMP/dest/"
    assert "$(cat "$MG_TMP/dest/top/good")" == "good" "a good file arrives"
    assert "$(cat "$MG_TMP/dest/top/sub/ok")" == "ok" "a good file in a good directory arrives"
    assert "$stderr" =~ "\.\./escaped-dotdot: unsafe name from the far end" "../ refused"
    assert "$stderr" =~ "/tmp/mg-file-evil-abs: unsafe name" "an absolute name refused"
    assert "$stderr" =~ "top/hard: unsafe hard link target" "a hard link out refused"
    assert "$stderr" =~ "top/out/escaped-link: Not a directory" "no file through the symlink"
    assert "$stderr" =~ "top/badsum: checksum mismatch" "a checksum mismatch names the file"
    [[ ! -e /tmp/mg-file-evil-abs && ! -e $MG_TMP/escaped-dotdot && ! -e $MG_TMP/escaped-up ]] ||
        die "written outside DEST"
    assert "$(ls -A "$MG_TMP/out")" == "" "nothing written through the symlink"
    assert "$(cat "$MG_TMP/outside-file")" == "keep" "the hard link target is intact"
    [[ ! -e $MG_TMP/dest/top/badsum ]] || die "a file with a bad checksum was kept"

    # -r: symlinks are followed at the source; one sent all the same is refused.
    mkdir "$MG_TMP/dest-r"
    MG_FILE_EVIL_OUT=$MG_TMP/out MITOGEN_AGENT=$stub run_mg_sep 1 mitogen-cp -r local:/top "$MG_TMP/dest-r/"
    assert "$stderr" =~ "dest-r/top/out: a link from the far end without -a \(refused\)" "-r: no symlink made"
    [[ ! -L $MG_TMP/dest-r/top/out ]] || die "-r: a symlink from the far end was made"
    assert "$(cat "$MG_TMP/dest-r/top/good")" == "good" "-r: a good file arrives"

    MG_FILE_EVIL=corrupt MITOGEN_AGENT=$stub run_mg_sep 1 mitogen-cp -r local:/x "$MG_TMP/d2"
    assert "$stderr" =~ "corrupt file stream from the far end" "a broken stream is dropped"
    [[ ! -e $MG_TMP/d2/late ]] || die "nothing after a broken record is written"
    assert_no_temp "$MG_TMP"
}

@test "cp: a hostile source writes into DEST only under the names of the sources asked for" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the held hop runs the holder's agent, not MITOGEN_AGENT's"
    local stub=$MG_SRC_DIR/tests/stubs/hostile/file-evil d
    local evil
    evil="docker:evil?docker_path=$(mg_pct "$MG_SRC_DIR/tests/stubs/hostile/docker-file-evil")"
    export MG_FILE_EVIL=names
    # A pull, then chain to chain through here and through the hop
    # the two chains share (file.copy there), each into an existing
    # DEST: the stream may name only 'top', as scp checks since
    # CVE-2019-6111.
    for d in pull here shared; do
        mkdir "$MG_TMP/$d"
        printf 'mine\n' >"$MG_TMP/$d/.profile"
    done
    MITOGEN_AGENT=$stub run_mg_sep 1 mitogen-cp -a local:/top "$MG_TMP/pull/"
    run_mg_sep 1 mitogen-cp -a "$evil:/top" "local:$MG_TMP/here/"
    run_mg_sep 1 mitogen-cp -a "local/$evil:/top" "local/local:$MG_TMP/shared"
    assert "$stderr" =~ "shared/\.profile: not a name of the sources asked for, from the far end \(refused\)" "the name is said"
    for d in pull here shared; do
        assert "$(cat "$MG_TMP/$d/top/good")" == "good" "$d: the source asked for arrives"
        assert "$(cat "$MG_TMP/$d/.profile")" == "mine" "$d: a file beside it is not replaced"
        assert "$(ls -A "$MG_TMP/$d")" == ".profile"$'\n'"top" "$d: nothing else is made in DEST"
    done
    assert_no_temp "$MG_TMP"
}

@test "cp: chain to chain through a shared hop: a hostile target cannot speak for the hop doing the copy" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the holder does the copy"
    local evil
    evil="docker:evil?docker_path=$(mg_pct "$MG_SRC_DIR/tests/stubs/hostile/docker-file-evil")"
    printf 'x\n' >"$MG_TMP/f"
    # Its progress report (u8 4) reaches the master behind its own id:
    # the bar shows the bytes of the stream, never its 1 PiB of 2 PiB.
    MG_FILE_EVIL=bytes run_mg_sep mitogen-cp --progress "local:$MG_TMP/f" "local/$evil:/x"
    assert "$stderr" =~ "[0-9] B" "the bar counts the bytes of the stream"
    [[ ! $stderr =~ TiB ]] || die "a target's report was taken as the copy's progress"
}

@test "cp: chain to chain, a source that sends past its window: said so, the old file intact" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the holder does the copy"
    local evil
    evil="docker:evil?docker_path=$(mg_pct "$MG_SRC_DIR/tests/stubs/hostile/docker-file-evil")"
    mkdir "$MG_TMP/d"
    printf 'old\n' >"$MG_TMP/d/top"
    export MG_FILE_EVIL=flood
    # Through here, then through the hop the two share: the target
    # is not at fault, the error says what the source did.
    run_mg_sep '?' mitogen-cp "$evil:/top" "local:$MG_TMP/d/"
    assert "$status" -ne 0 "through here: a failure"
    assert "$stderr" =~ "^mitogen-cp: local: rcvd too much data from the source" "through here: what the source did"
    run_mg_sep '?' mitogen-cp "local/$evil:/top" "local/local:$MG_TMP/d/"
    assert "$status" -ne 0 "through the shared hop: a failure"
    assert "$stderr" =~ "mitogen-cp: local/local: rcvd too much data from the source" "through the shared hop: what the source did"
    assert "$(cat "$MG_TMP/d/top")" == "old" "the old file is intact"
    assert "$(ls -A "$MG_TMP/d")" == "top" "no other file"
    assert_no_temp "$MG_TMP"
}

@test "cp: over ssh and ssh/sudo, both ways" {
    need_sshd
    need_users
    chmod 755 "$MG_TMP"
    make_tree "$MG_TMP/t"
    chmod -R a+rX "$MG_TMP/t"
    local hop
    hop=$(ssh_hop)
    run_mg mitogen-cp -r "$MG_TMP/t" "$hop:$MG_TMP/viassh"
    run diff -r "$MG_TMP/t" "$MG_TMP/viassh"
    assert "$status" -eq 0 "pushed over ssh"
    run_mg mitogen-cp -r "$hop/sudo:mgtest_a:$MG_TMP/t" "$MG_TMP/pulled"
    run diff -r "$MG_TMP/t" "$MG_TMP/pulled"
    assert "$status" -eq 0 "pulled over ssh/sudo"
    mkdir -m 777 "$MG_TMP/a"
    run_mg mitogen-cp "$MG_TMP/t/a" "$hop/sudo:mgtest_a:$MG_TMP/a/"
    assert "$(stat -c %U "$MG_TMP/a/a")" == "mgtest_a" "written as the sudo user"
}

@test "cp: the request rides with the first hop's image, push and pull; a failing hop names itself once" {
    need_sshd
    local hop
    hop=$(ssh_hop)
    mkdir "$MG_TMP/e"
    # More than a window: the credit comes back to a request sent early.
    head -c 5000000 /dev/urandom >"$MG_TMP/e/f"
    # Sent before the hop was up, not a round trip after its HELLO reply.
    # (Under MITOGEN_PERSIST the holder starts the hop and logs it.)
    local rides="bytes of requests (ride with|follow) the image"
    [[ -z ${MITOGEN_PERSIST:-} ]] || rides=""
    run_mg_sep mitogen-cp -vv "$MG_TMP/e/f" "$hop:$MG_TMP/e/pushed"
    assert "$stderr" =~ "$rides" "push"
    run cmp "$MG_TMP/e/f" "$MG_TMP/e/pushed"
    assert "$status" -eq 0 "pushed"
    run_mg_sep mitogen-cp -vv "$hop:$MG_TMP/e/f" "$MG_TMP/e/pulled"
    assert "$stderr" =~ "$rides" "pull"
    run cmp "$MG_TMP/e/f" "$MG_TMP/e/pulled"
    assert "$status" -eq 0 "pulled"
    # A chain that fails still fails the request sent early with its error.
    run_mg_sep 255 mitogen-cp "$MG_TMP/e/f" "$hop/sudo:nosuchuser$$:$MG_TMP/e/x"
    assert "$stderr" =~ "sudo:nosuchuser$$: there is no user 'nosuchuser$$' here" "push"
    assert "$stderr" !~ "nosuchuser$$: .*nosuchuser$$: there" "the chain named once"
    run_mg_sep 255 mitogen-cp "$hop/sudo:nosuchuser$$:$MG_TMP/e/f" "$MG_TMP/e/x"
    assert "$stderr" =~ "sudo:nosuchuser$$: there is no user 'nosuchuser$$' here" "pull"
    assert "$(ls -A "$MG_TMP/e")" == "f
pulled
pushed" "nothing else written"
}

@test "cp: over ssh, a push the far end refuses at once ends with its error, never hangs" {
    need_sshd
    local hop i
    hop=$(ssh_hop)
    printf 'x\n' >"$MG_TMP/f"
    # The refusal may come back before the chain is said up (the request
    # rides with the image): a race, so several times.
    for ((i = 0; i < 6; i++)); do
        run_mg_sep 1 mitogen-cp "$MG_TMP/f" "$hop:$MG_TMP/nosuch/f"
        assert "$stderr" =~ "$MG_TMP/nosuch/f: No such file or directory" "try $i: why"
    done
}

@test "cp: many targets: push reads once, pull into DEST/TARGET" {
    printf 'many\n' >"$MG_TMP/f"
    mkdir "$MG_TMP/d1" "$MG_TMP/d2"
    run_mg mitogen-cp -w local -w local/local "$MG_TMP/f" ":$MG_TMP/d1/"
    assert "$(cat "$MG_TMP/d1/f")" == "many" "pushed"
    run_mg_sep mitogen-cp -w local,local/local ":$MG_TMP/f" "$MG_TMP/d2"
    assert "$(cat "$MG_TMP/d2/local/f")" == "many" "pulled into DEST/local"
    assert "$(cat "$MG_TMP/d2/local+local/f")" == "many" "pulled into DEST/local+local"

    run_mg_sep 1 mitogen-cp -w local,local/local "$MG_TMP/f" ":$MG_TMP/nosuch/"
    assert "$stderr" =~ "local: .*nosuch/: Not a directory" "prefixed by target"
    assert "$stderr" =~ "2 of 2 failed" "a summary"

    # A name too long for a file name: DEST/ its --outdir stem (the
    # first 234 bytes, "~", a hash of the whole), as mitogen-run(1) says.
    local long stem
    long="local?remote_name=$(printf 'x%.0s' {1..300})"
    run_mg_sep mitogen-cp -w "local,$long" ":$MG_TMP/f" "$MG_TMP/d2"
    stem=$(find "$MG_TMP/d2" -mindepth 1 -maxdepth 1 -name 'local%3Fremote_name=x*' -printf '%f\n')
    assert "$stem" =~ "^local%3Fremote_name=x{214}~[0-9a-f]{16}$" "pulled into DEST/STEM"
    assert "$(cat "$MG_TMP/d2/$stem/f")" == "many" "the file there"
    run_mg mitogen-cp -n -w "$long" ":$MG_TMP/f" "$MG_TMP/d2"
    assert "$output" =~ " -> $MG_TMP/d2/$stem\$" "-n says that directory"
    run_mg mitogen-cp -n -w local ":$MG_TMP/f" "$MG_TMP/d2/"
    assert "$output" == "local:$MG_TMP/f -> $MG_TMP/d2/local" "-n: one slash after a DEST/"

    run_mg_sep mitogen-cp --json -w local "$MG_TMP/f" ":$MG_TMP/d1/"
    assert "$output" =~ '"target": *"local"' "JSON per target"
    run_mg_sep 255 mitogen-cp -w local,'ssh:127.0.0.1:1?connect_timeout=3' "$MG_TMP/f" ":$MG_TMP/d1/"
    assert "$stderr" =~ "1 of 2 failed" "one unreachable"
}

@test "cp: a pull from many targets into a missing DEST or a file: said once a target, naming DEST" {
    printf 'f\n' >"$MG_TMP/f"
    printf 'x\n' >"$MG_TMP/file"
    run_mg_sep 1 mitogen-cp -w local,local/local ":$MG_TMP/f" "$MG_TMP/nosuch"
    assert "${#stderr_lines[@]}" -eq 3 "two targets, one line each, and the summary"
    assert "${stderr_lines[0]}" =~ "^local: $MG_TMP/nosuch: No such file or directory$" "names DEST"
    assert "${stderr_lines[2]}" =~ "2 of 2 failed" "the summary"
    run_mg_sep 1 mitogen-cp -w local ":$MG_TMP/f" "$MG_TMP/file"
    assert "$stderr" == "local: $MG_TMP/file: Not a directory
mitogen-cp: 1 of 1 failed: local (exit 1)" "DEST a file"
    assert "$(cat "$MG_TMP/file")" == "x" "the file intact"
}

@test "cp: words, usage errors and -n" {
    run_mg_sep 2 mitogen-cp "$MG_TMP/a"
    assert "$stderr" =~ "no DEST given" "one word"
    run_mg_sep 2 mitogen-cp "$MG_TMP/a" "$MG_TMP/b"
    assert "$stderr" =~ "both local" "no far side"
    run_mg_sep 2 mitogen-cp local:/a "$MG_TMP/b" local:/c
    assert "$stderr" =~ "all local or all CHAIN:PATH" "mixed sources"
    run_mg_sep 2 mitogen-cp local:/a local/local:/b local:/c
    assert "$stderr" =~ "different chains" "sources on two chains"
    run_mg_sep 2 mitogen-cp 'local,local/local:/a' local:/c
    assert "$stderr" =~ "the end of one chain" "sources on many chains"
    run_mg_sep 2 mitogen-cp 'lcoal:/a' "$MG_TMP/b"
    assert "$stderr" =~ "lcoal" "a bad chain is named"

    run_mg_sep mitogen-cp -n f g 'ssh:web1:2222:/etc/x'
    assert "${lines[0]}" == "f -> ssh:web1:2222:/etc/x" "port then absolute path"
    run_mg_sep mitogen-cp -n 'ssh:web1/sudo:/etc/x' .
    assert "$output" == "ssh:web1/sudo:/etc/x -> ." "the path after the last hop"
    run_mg_sep mitogen-cp -n 'web1:a:b' .
    assert "$output" == "ssh:web1:a:b -> ." "a relative path with a colon"
    run_mg_sep mitogen-cp -n 'ssh:web1:' .
    assert "$output" == "ssh:web1:. -> ." "an empty path is the far directory"
    # One copy per line: a newline or a control byte in a name is shown
    # escaped, as in errors.
    run_mg_sep mitogen-cp -n $'sd/n\nl' $'local:/tmp/x\x01/'
    assert "${#lines[@]}" -eq 1 "one line for one copy"
    assert "$output" == 'sd/n\nl -> local:/tmp/x\x01/' "the newline shown escaped"
}

@test "cp: the chain before a colon is read as mitogen-run reads it: a mistyped one refused, a bracket in a value plain" {
    local chain
    # Before, a valid shorter chain (local/sudo) took the rest as a
    # relative path ("root?usr=x:/..."), and the copy went there (-n
    # shows where it would go).
    for chain in 'local/sudo:root?usr=x' 'local/local?remot_name=x'; do
        run_mg_sep 2 mitogen-cp -n "$MG_TMP/a" "$chain:$MG_TMP/dst"
        assert "${stderr#mitogen-cp: }" == "chain '$chain': ${stderr#*\': }" "$chain: named as mitogen-run names it"
        assert "$stderr" =~ "column [0-9]+: unknown option" "$chain: the bad part named"
        run_mg_sep 2 mitogen-run "$chain" true
        assert "$stderr" =~ "unknown option" "$chain: mitogen-run refuses the same chain"
    done
    run_mg_sep 2 mitogen-cp -n "$MG_TMP/a" 'ssh:we%20b:notes'
    assert "$stderr" =~ "chain 'ssh:we%20b': column 7: space in host" "the longest text is checked, not 'ssh'"
    run_mg_sep 2 mitogen-cp -n "$MG_TMP/a" 'sduo:root:/x'
    assert "$stderr" =~ "chain 'sduo:root': column 1: unknown method 'sduo' \(did you mean 'sudo'\?\)" \
        "the same words as mitogen-run's"
    # A relative path holding ":/" is written ./PATH.
    run_mg_sep 2 mitogen-cp -n "$MG_TMP/a" 'web1:a:/b'
    assert "$stderr" =~ "written ./PATH" "the hint"
    run_mg_sep mitogen-cp -n "$MG_TMP/a" 'web1:./a:/b'
    assert "$output" == "$MG_TMP/a -> ssh:web1:./a:/b" "./ before it"
    # After a hop's '?' a bracket is plain, as mitogen-run reads it: the
    # ':' after it still ends the chain (it was taken as an IPv6 one's).
    run_mg_sep mitogen-cp -n "$MG_TMP/a" 'local/sudo?password_prompt=a[b:/x'
    assert "$output" == "$MG_TMP/a -> local/sudo?password_prompt=a[b:/x" "'[' in an option value"
}

@test "cp: a word of 20,000 ':'s is split, or refused, at once" {
    local many
    many=$(printf 'a:%.0s' {1..20000})
    # Each ':' was put to the chain parser with all the text before it:
    # some 20 s for such a word. The limit only guards against a hang.
    MG_TIMEOUT=5 run_mg_sep mitogen-cp -n "$MG_TMP/a" "local?remote_name=${many}b:/x"
    assert "$output" == "$MG_TMP/a -> local?remote_name=${many}b:/x" "split at the ':/'"
    MG_TIMEOUT=5 run_mg_sep mitogen-cp -n "$MG_TMP/a" "local?remote_name=${many}b"
    assert "$output" == "$MG_TMP/a -> local?remote_name=${many%:}:b" "split at the last ':'"
    MG_TIMEOUT=5 run_mg_sep 2 mitogen-cp -n "$MG_TMP/a" "lcoal:${many}x"
    assert "$stderr" =~ "column 1: unknown method 'lcoal'" "refused"
    MG_TIMEOUT=5 run_mg_sep 2 mitogen-cp -n "$MG_TMP/a" "ssh:h?port=${many}x:/f"
    assert "$stderr" =~ "column 12: bad port 'a:a:a:" "refused: the text before the first ':/'"
}

@test "cp: targets behind one hop get one stream, relayed there; one failing does not stop the other" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the holder logs the hops (-v)"
    need_users
    chmod 755 "$MG_TMP"
    make_tree "$MG_TMP/t"
    chmod -R a+rX "$MG_TMP/t"
    # Made beforehand: both targets write there, the root one must not
    # make it first for the other (a race).
    mkdir -m 755 "$MG_TMP/d" "$MG_TMP/d/t"
    run_mg_sep 1 mitogen-cp -v -r -w local/local -w local/sudo:mgtest_a "$MG_TMP/t" ":$MG_TMP/d/"
    assert "$stderr" =~ "local: file.relay: passing a push on to 2 contexts" "the first hop relays"
    assert "$stderr" =~ "local\+sudo=mgtest_a: $MG_TMP/d/t/a: Permission denied" "the refused target, named"
    assert "$stderr" =~ "1 of 2 failed: local\+sudo=mgtest_a \(exit 1\)" "the summary"
    run diff -r "$MG_TMP/t" "$MG_TMP/d/t"
    assert "$status" -eq 0 "the other target has the whole tree"
}

@test "cp: a hop that dies mid-copy: 255 naming the chain, the old file intact" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the agents are the holder's children"
    local big=$MG_TMP/big m a a2 i
    truncate -s 16G "$big"
    mkdir "$MG_TMP/d"
    printf 'old\n' >"$MG_TMP/d/big"
    mitogen-cp -a --no-progress "$big" "local/local:$MG_TMP/d/" 3>/dev/null 2>"$MG_TMP/err" &
    m=$!
    far_agent_writing "$m"
    # The middle hop dies: the far one loses its parent, the master its route.
    kill -9 "$a"
    local rc=0
    wait "$m" || rc=$?
    assert "$rc" -eq 255 "a lost hop is 255"
    assert "$(cat "$MG_TMP/err")" =~ "local/local: " "the error names the chain"
    for ((i = 0; i < 500; i++)); do
        kill -0 "$a2" 2>/dev/null || break
        sleep 0.01
    done
    assert "$(cat "$MG_TMP/d/big")" == "old" "the old file is intact"
    assert "$(ls -A "$MG_TMP/d")" == "big" "no other file"
}

@test "cp: chain to chain, the receiving hop killed mid-copy: 255, not a failed file" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the agents are the holder's children"
    local big=$MG_TMP/big m a a2
    # Zeros read and sent (no -a): the stream is still flowing from the
    # shared hop (local) to the receiver (local/local) when it dies.
    truncate -s 16G "$big"
    mkdir "$MG_TMP/d"
    printf 'old\n' >"$MG_TMP/d/big"
    mitogen-cp --no-progress "local:$big" "local/local:$MG_TMP/d/" 3>/dev/null 2>"$MG_TMP/err" &
    m=$!
    far_agent_writing "$m"
    # Bytes flowing: the shared hop's write to it then mostly fails
    # before it reads the link's end, which was said as the copy's own
    # failure (exit 1; 8 of 10 here on the old code).
    sleep 0.3
    kill -9 "$a2"
    local rc=0
    wait "$m" || rc=$?
    assert "$rc" -eq 255 "a lost hop is 255: $(cat "$MG_TMP/err")"
    assert "$(cat "$MG_TMP/err")" =~ "local/local: .*lost" "the error names the chain, and says it was lost"
    assert "$(cat "$MG_TMP/d/big")" == "old" "the old file is intact"
}

@test "cp: --progress on a terminal shows bytes, rate and ETA; none when not a terminal" {
    skip_if_no_program script
    head -c 3000000 /dev/urandom >"$MG_TMP/f"
    mkdir "$MG_TMP/d"
    run_mg script -qec "mitogen-cp '$MG_TMP/f' 'local:$MG_TMP/d/'" /dev/null
    assert "$output" =~ "2.9 MiB / 2.9 MiB  100%  .*B/s  ETA 0:00" "a bar by default on a terminal"
    # The far source counts what it sends: pulls and chain to chain too.
    run_mg script -qec "mitogen-cp 'local:$MG_TMP/f' '$MG_TMP/pulled'" /dev/null
    assert "$output" =~ "2.9 MiB / 2.9 MiB  100%  .*B/s  ETA 0:00" "a pull's bar"
    run_mg script -qec "mitogen-cp -r 'local:$MG_TMP/d' '$MG_TMP/tree'" /dev/null
    assert "$output" =~ "2.9 MiB / 2.9 MiB  100%  .*B/s  ETA 0:00" "a tree's"
    run_mg script -qec "mitogen-cp 'local:$MG_TMP/f' 'local/local:$MG_TMP/c'" /dev/null
    assert "$output" =~ "2.9 MiB / 2.9 MiB  100%  .*B/s  ETA 0:00" "chain to chain, at the hop they share"
    run cmp "$MG_TMP/f" "$MG_TMP/c"
    assert "$status" -eq 0 "copied"
    run_mg_sep mitogen-cp "$MG_TMP/f" "local:$MG_TMP/d/"
    assert "$stderr" == "" "no bar when stderr is not a terminal"
    run_mg_sep mitogen-cp --progress "$MG_TMP/f" "local:$MG_TMP/d/"
    assert "$stderr" =~ "100%" "--progress forces it"
}

@test "cp: --progress of a pull from many targets counts what each sends" {
    head -c 3000000 /dev/urandom >"$MG_TMP/f"
    mkdir "$MG_TMP/out"
    run_mg_sep mitogen-cp --progress -w 'local,local/local' ":$MG_TMP/f" "$MG_TMP/out/"
    assert "$status" -eq 0 "pulled"
    # The last bar: both files' bytes (no total: each far end counts its own).
    last=$(printf '%s' "$stderr" | tr '\r' '\n' | sed 's/\x1b\[K//g' | grep . | tail -1)
    assert "$last" =~ "^5.7 MiB  .*B/s$" "the bytes of both"
}

@test "cp: from one chain to others, through here" {
    make_tree "$MG_TMP/t"
    run_mg mitogen-cp -r "local:$MG_TMP/t" "local/local:$MG_TMP/copy"
    run diff -r "$MG_TMP/t" "$MG_TMP/copy"
    assert "$status" -eq 0 "the tree arrived"
    mkdir "$MG_TMP/two"
    run_mg_sep 1 mitogen-cp -r "local:$MG_TMP/t" "local:$MG_TMP/nosuch" \
        "local/local,local/local/local:$MG_TMP/two/"
    assert "$stderr" =~ "local\+local: $MG_TMP/nosuch: No such file or directory" "a missing source, per target"
    assert "$stderr" =~ "2 of 2 failed" "both targets report it"
    run diff -r "$MG_TMP/t" "$MG_TMP/two/t"
    assert "$status" -eq 0 "the rest arrived"
    run_mg_sep 255 mitogen-cp "ssh:127.0.0.1:1?connect_timeout=3:/x" "local:$MG_TMP/none"
    assert "$stderr" =~ "^mitogen-cp: ssh:127.0.0.1:1\?connect_timeout=3: " "an unreachable source names its chain"
    run_mg_sep mitogen-cp -n local:/a local:/b local/local:/c
    assert "${lines[1]}" == "local:/b -> local/local:/c" "the plan"
}

# Run a command; print its status and the bytes it read and wrote
# (rchar, wchar of /proc/PID/io, read once it has exited, before it is
# reaped) to $MG_TMP/io as "RC RCHAR WCHAR".
function run_io() {
    python3 - "$@" <<'PY' >"$MG_TMP/io"
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:])
os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
io = dict(l.split(": ") for l in open("/proc/%d/io" % p.pid).read().splitlines())
print(p.wait(), io["rchar"], io["wchar"])
PY
}

@test "cp: chain to chain through the hop the two share: no byte through here" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the holder does the copy"
    local big=$MG_TMP/big rc rchar wchar rchar0 wchar0
    head -c 33554432 /dev/urandom >"$big"
    printf 'x' >"$MG_TMP/small"
    mkdir "$MG_TMP/d"
    # What the command reads and writes anyway (the agent's image, ...).
    run_io mitogen-cp --no-progress "local:$MG_TMP/small" "local/local:$MG_TMP/d/"
    read -r rc rchar0 wchar0 <"$MG_TMP/io"
    assert "$rc" -eq 0 "a small copy"
    run_io mitogen-cp -v --no-progress "local:$big" "local/local:$MG_TMP/d/"
    read -r rc rchar wchar <"$MG_TMP/io"
    assert "$rc" -eq 0 "copied"
    cmp "$big" "$MG_TMP/d/big" || die "the copy differs"
    ((rchar - rchar0 < 2097152 && wchar - wchar0 < 2097152)) ||
        die "32 MiB copied, this machine read $rchar ($rchar0 for 1 byte) and wrote $wchar ($wchar0)"
    # The same copy through here reads and writes all of it: the
    # measure above can fail.
    rm "$MG_TMP/d/big"
    MITOGEN_CP_NO_RELAY=1 run_io mitogen-cp --no-progress "local:$big" "local/local:$MG_TMP/d/"
    read -r rc rchar wchar <"$MG_TMP/io"
    assert "$rc" -eq 0 "copied through here"
    cmp "$big" "$MG_TMP/d/big" || die "the copy through here differs"
    ((rchar > 33554432 && wchar > 33554432)) || die "through here: read $rchar, wrote $wchar"
}

@test "cp: chain to chain: the shared hop may be either end; local/sudo; errors name the file and the hop" {
    need_users
    chmod 755 "$MG_TMP"
    make_tree "$MG_TMP/t"
    chmod -R a+rX "$MG_TMP/t"
    mkdir -m 777 "$MG_TMP/d"
    run_mg_sep mitogen-cp -v -r "local:$MG_TMP/t" "local/sudo:mgtest_a:$MG_TMP/d/"
    assert_hop_log "local: file.copy: from context [0-9]+ to 1 contexts, through here" "done by the source's agent"
    run diff -r "$MG_TMP/t" "$MG_TMP/d/t"
    assert "$status" -eq 0 "the tree arrived"
    assert "$(stat -c %U "$MG_TMP/d/t/a")" == "mgtest_a" "written as the sudo user"
    run_mg_sep mitogen-cp -v "local/sudo:mgtest_a:$MG_TMP/t/a" "local:$MG_TMP/d/back"
    assert_hop_log "local: file.copy: from context [0-9]+ to 1 contexts, through here" "done by the target's agent"
    assert "$(cat "$MG_TMP/d/back")" == "alpha" "copied back"
    # A source the far user may not read, a target it may not write.
    chmod 600 "$MG_TMP/t/a"
    run_mg_sep 1 mitogen-cp "local/sudo:mgtest_a:$MG_TMP/t/a" "local/local:$MG_TMP/d/x"
    assert "$stderr" =~ "local/sudo:mgtest_a: $MG_TMP/t/a: Permission denied" "the source's hop and file"
    mkdir -m 755 "$MG_TMP/ro"
    printf 'old\n' >"$MG_TMP/ro/f"
    chmod 644 "$MG_TMP/ro/f"
    run_mg_sep 1 mitogen-cp "local/local:$MG_TMP/t/empty" "local/sudo:mgtest_a:$MG_TMP/ro/f"
    assert "$stderr" =~ "local\+sudo=mgtest_a: |local/sudo:mgtest_a: " "the target's hop"
    assert "$stderr" =~ "Permission denied" "why"
    assert "$(cat "$MG_TMP/ro/f")" == "old" "the old file intact"
    assert_no_temp "$MG_TMP/ro"
}

@test "cp: chain to chain over ssh with a shared prefix, and a push relayed two hops down" {
    need_sshd
    need_users
    chmod 755 "$MG_TMP"
    make_tree "$MG_TMP/t"
    chmod -R a+rX "$MG_TMP/t"
    mkdir -m 777 "$MG_TMP/d" "$MG_TMP/e"
    local hop
    hop=$(ssh_hop)
    run_mg_sep mitogen-cp -v -r "$hop/local:$MG_TMP/t" "$hop/sudo:mgtest_a:$MG_TMP/d/"
    assert_hop_log "file.copy: from context [0-9]+ to 1 contexts, through here" "done by the ssh hop's agent"
    run diff -r "$MG_TMP/t" "$MG_TMP/d/t"
    assert "$status" -eq 0 "the tree arrived"
    # Three targets two hops below the ssh hop: one stream to it, one
    # to local/local, which writes and passes it on.
    run_mg_sep mitogen-cp -v -r -w "$hop/local/local" -w "$hop/local/local/local" \
        -w "$hop/local/local/fork" "$MG_TMP/t" ":$MG_TMP/e/"
    assert_hop_log "file.relay: passing a push on to 3 contexts" "relayed where the chains part"
    local n
    if [[ -z ${MITOGEN_PERSIST:-} ]]; then
        n=$(grep -c "file.relay" <<<"$stderr")
        assert "$n" -eq 1 "relayed there only"
    fi
    run diff -r "$MG_TMP/t" "$MG_TMP/e/t"
    assert "$status" -eq 0 "the tree arrived"
}

@test "cp: -u stops a copy that takes too long: 124, the old file intact" {
    truncate -s 16G "$MG_TMP/big"
    mkdir "$MG_TMP/d"
    printf 'old\n' >"$MG_TMP/d/big"
    run_mg_sep 124 mitogen-cp -a -u 0.5 "$MG_TMP/big" "local:$MG_TMP/d/"
    assert "$stderr" =~ "local: timed out after 0.5 s" "why"
    assert "$(cat "$MG_TMP/d/big")" == "old" "the old file is intact"
    assert "$(ls -A "$MG_TMP/d")" == "big" "no other file"
    run_mg_sep 2 mitogen-cp -u x "$MG_TMP/big" "local:$MG_TMP/d/"
    assert "$stderr" =~ "-u 'x': expected seconds" "a bad -u"
}

@test "cp: -p as root keeps the owner and group" {
    need_users
    printf 'owned\n' >"$MG_TMP/f"
    chown mgtest_a:mgtest_a "$MG_TMP/f"
    run_mg mitogen-cp -p "$MG_TMP/f" "local:$MG_TMP/g"
    assert "$(stat -c %U:%G "$MG_TMP/g")" == "mgtest_a:mgtest_a" "-p: owner and group"
    run_mg mitogen-cp "$MG_TMP/f" "local:$MG_TMP/h"
    assert "$(stat -c %U "$MG_TMP/h")" == "root" "without -p: the writer's"
}

# Text that deflates well, a file that does not (random), and one that
# is already compressed: -z must give the same bytes.
function make_ztree() {
    local d=$1 i
    mkdir -p "$d/sub"
    cat "$MG_SRC_DIR"/man/*.scd "$MG_SRC_DIR"/docs/PROTOCOL.md >"$d/text"
    for i in 1 2 3 4; do cat "$d/text"; done >"$d/sub/text4"
    head -c 400000 /dev/urandom >"$d/random"
    gzip -c <"$d/sub/text4" >"$d/sub/text4.gz"
    : >"$d/empty"
    printf 'x' >"$d/one"
}

# "copied (N bytes of files, M on the wire)": sets files and wire.
function copied_bytes() {
    [[ $1 =~ copied\ \(([0-9]+)\ bytes\ of\ files,\ ([0-9]+)\ on\ the\ wire\) ]] ||
        die "no byte counts in: $1"
    files=${BASH_REMATCH[1]}
    wire=${BASH_REMATCH[2]}
}

@test "cp: -z pushes and pulls the same bytes, trees too, fewer on the wire" {
    local chain files wire
    make_ztree "$MG_TMP/t"
    for chain in local local/local; do
        run_mg_sep mitogen-cp -v -z -r "$MG_TMP/t" "$chain:$MG_TMP/pushed"
        run diff -r "$MG_TMP/t" "$MG_TMP/pushed"
        assert "$status" -eq 0 "$chain: the pushed tree is the same: $output"
        copied_bytes "$stderr"
        assert "$((wire * 4))" -lt "$((files * 3))" "$chain: pushed $files bytes of files as $wire"
        run_mg_sep mitogen-cp -v -z -r "$chain:$MG_TMP/t" "$MG_TMP/pulled"
        run diff -r "$MG_TMP/t" "$MG_TMP/pulled"
        assert "$status" -eq 0 "$chain: the pulled tree is the same: $output"
        copied_bytes "$stderr"
        assert "$((wire * 4))" -lt "$((files * 3))" "$chain: pulled $files bytes of files as $wire"
        rm -rf "$MG_TMP/pushed" "$MG_TMP/pulled"
    done
    run_mg mitogen-cp -z "$MG_TMP/t/one" "local:$MG_TMP/one"
    assert "$(cat "$MG_TMP/one")" == "x" "one byte"
    assert_no_temp "$MG_TMP"
}

@test "cp: -z sends data that does not shrink as it is" {
    local files wire
    head -c 3000000 /dev/urandom >"$MG_TMP/random"
    gzip -c <"$MG_SRC_DIR/docs/PROTOCOL.md" >"$MG_TMP/p.gz"
    for f in random p.gz; do
        run_mg_sep mitogen-cp -v -z "$MG_TMP/$f" "local:$MG_TMP/copy-$f"
        cmp "$MG_TMP/$f" "$MG_TMP/copy-$f" || die "$f: not the same"
        copied_bytes "$stderr"
        # A few header bytes per 128 KiB frame and the records.
        assert "$wire" -lt "$((files + files / 1000 + 500))" "$f: $files bytes of files, $wire on the wire"
        run_mg_sep mitogen-cp -v -z "local:$MG_TMP/$f" "$MG_TMP/back-$f"
        cmp "$MG_TMP/$f" "$MG_TMP/back-$f" || die "$f: not the same pulled"
        copied_bytes "$stderr"
        assert "$wire" -lt "$((files + files / 1000 + 500))" "$f pulled: $files bytes of files, $wire on the wire"
    done
}

@test "cp: -z over ssh and ssh/sudo, relayed to many, and from chain to chain" {
    need_sshd
    need_users
    chmod 755 "$MG_TMP"
    make_ztree "$MG_TMP/t"
    chmod -R a+rX "$MG_TMP/t"
    local hop
    hop=$(ssh_hop)
    run_mg mitogen-cp -z -r "$MG_TMP/t" "$hop:$MG_TMP/viassh"
    run diff -r "$MG_TMP/t" "$MG_TMP/viassh"
    assert "$status" -eq 0 "pushed over ssh: $output"
    run_mg mitogen-cp -z -r "$hop/sudo:mgtest_a:$MG_TMP/t" "$MG_TMP/pulled"
    run diff -r "$MG_TMP/t" "$MG_TMP/pulled"
    assert "$status" -eq 0 "pulled over ssh/sudo: $output"

    # Both targets write there: the directories are made beforehand, so
    # that neither finds the other's half made.
    mkdir -p "$MG_TMP/many/t/sub"
    run_mg_sep mitogen-cp -v -z -r -w "$hop/local" -w "$hop/fork" "$MG_TMP/t" ":$MG_TMP/many/"
    assert_hop_log "file.relay: passing a push on to 2 contexts" "relayed by the ssh hop"
    run diff -r "$MG_TMP/t" "$MG_TMP/many/t"
    assert "$status" -eq 0 "relayed: $output"

    run_mg mitogen-cp -z -r "$hop:$MG_TMP/t" "local/local:$MG_TMP/chain2chain"
    run diff -r "$MG_TMP/t" "$MG_TMP/chain2chain"
    assert "$status" -eq 0 "from chain to chain: $output"
    run_mg_sep mitogen-cp -v -z -r "$hop/local:$MG_TMP/t" "$hop/fork:$MG_TMP/shared"
    assert_hop_log "file.copy: from context [0-9]+ to 1 contexts, through here" "done by the ssh hop's agent"
    run diff -r "$MG_TMP/t" "$MG_TMP/shared"
    assert "$status" -eq 0 "from chain to chain through the shared hop: $output"
    assert_no_temp "$MG_TMP"
}

@test "cp: -z from a hostile far end: the same rules; a frame that does not decode fails its file" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the held hop runs the holder's agent, not MITOGEN_AGENT's"
    local stub=$MG_SRC_DIR/tests/stubs/hostile/file-evil
    mkdir -p "$MG_TMP/dest" "$MG_TMP/out"
    rm -f /tmp/mg-file-evil-abs
    # Frames deflated by zlib: read as well as ours.
    MG_FILE_EVIL_OUT=$MG_TMP/out MITOGEN_AGENT=$stub run_mg_sep 1 mitogen-cp -z -r local:/top "$MG_TMP/dest/"
    assert "$(cat "$MG_TMP/dest/top/good")" == "good" "a good file arrives"
    assert "$(cat "$MG_TMP/dest/top/sub/ok")" == "ok" "a good file in a good directory arrives"
    assert "$stderr" =~ "\.\./escaped-dotdot: unsafe name from the far end" "../ refused"
    assert "$stderr" =~ "top/badsum: checksum mismatch" "a checksum mismatch names the file"
    [[ ! -e /tmp/mg-file-evil-abs && ! -e $MG_TMP/escaped-dotdot && ! -e $MG_TMP/escaped-up ]] ||
        die "written outside DEST"
    assert "$(ls -A "$MG_TMP/out")" == "" "nothing written through the symlink"

    MG_FILE_EVIL=zcorrupt MITOGEN_AGENT=$stub run_mg_sep 1 mitogen-cp -z -r local:/x "$MG_TMP/d2"
    assert "$(cat "$MG_TMP/d2/good")" == "good" "the file before it arrives"
    assert "$stderr" =~ "d2/victim: corrupt compressed data from the far end" "names the file"
    [[ ! -e $MG_TMP/d2/victim ]] || die "the broken file was kept"
    assert_no_temp "$MG_TMP"
}
