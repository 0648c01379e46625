#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the far shell
#
# The real ssh clients over fakessh: scp (SFTP and -O), sftp -b, rsync
# -a --delete (also through sudo into a root-owned directory, and refused
# for a user who may not write there), git; over local chains and the
# private sshd. And what goes wrong under them: a hop lost mid-transfer,
# the client killed mid-transfer, SFTP requests the far user may not make.

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

# A tree with awkward names: blanks, quotes, $(), a non-UTF-8 byte, a
# binary file; with "nl" a newline too (scp -O's protocol has no way to
# carry one, whatever the transport).
function make_tree() {
    local d=$1
    mkdir -p "$d/sub dir"
    printf 'a\n' >"$d/with space"
    printf 'b\n' >"$d/it's \"quoted\""
    printf 'c\n' >"$d/\$(touch pwned)"
    printf 'e\n' >"$d/latin1-"$'\xe9'
    head -c 300000 /dev/urandom >"$d/sub dir/blob"
    if [[ ${2:-} == nl ]]; then
        printf 'd\n' >"$d/new"$'\n'"line"
    fi
}

function no_pwned() {
    [[ ! -e $MG_TMP/pwned && ! -e pwned && ! -e ~/pwned ]] || die "a file name ran as a command"
}

# The pids under $1, depth first (by parent pid, nothing else matched).
function descendants() {
    local c
    for c in $(pgrep -P "$1"); do
        echo "$c"
        descendants "$c"
    done
}

# wait_child PARENT NAME: the pid of PARENT's child NAME, once it exists.
function wait_child() {
    local i p
    for ((i = 0; i < $(mg_secs 100); i++)); do
        p=$(pgrep -P "$1" -x "$2") && { echo "$p"; return 0; }
        sleep 0.1
    done
    return 1
}

# gone PIDS...: true once none of them exists (within 10 s of work).
function gone() {
    local i list
    list=$(IFS=,; echo "$*")
    for ((i = 0; i < $(mg_secs 100); i++)); do
        ps -o pid= -p "$list" >/dev/null || return 0
        sleep 0.1
    done
    ps -o pid=,args= -p "$list"
    return 1
}

function ssh_fake() {
    printf 'fakessh -F %s -p %s' "$MG_SSH_CONFIG" "$MG_SSH_PORT"
}

@test "scp (SFTP mode): push and pull, -r, hostile names; a single hostile target name" {
    skip_if_no_program scp
    make_tree "$MG_TMP/src" nl
    local dest
    for dest in local local+local; do
        run_mg_sep scp -q -S fakessh -r "$MG_TMP/src" "$dest:$MG_TMP/push-$dest"
        diff -r "$MG_TMP/src" "$MG_TMP/push-$dest" || die "scp push to $dest: trees differ"
        run_mg_sep scp -q -S fakessh -r "$dest:$MG_TMP/src" "$MG_TMP/pull-$dest"
        diff -r "$MG_TMP/src" "$MG_TMP/pull-$dest" || die "scp pull from $dest: trees differ"
    done
    local odd=$'odd \'"$(touch pwned)`x`\n'$'\xff'
    run_mg_sep scp -q -S fakessh "$MG_TMP/src/sub dir/blob" "local:$MG_TMP/$odd"
    cmp "$MG_TMP/src/sub dir/blob" "$MG_TMP/$odd" || die "a hostile target name"
    no_pwned
}

@test "scp -O (the old protocol): push and pull, -r, hostile names" {
    skip_if_no_program scp
    make_tree "$MG_TMP/src"
    run_mg_sep scp -q -O -S fakessh -r "$MG_TMP/src" "local+local:$MG_TMP/push"
    diff -r "$MG_TMP/src" "$MG_TMP/push" || die "scp -O push: trees differ"
    run_mg_sep scp -q -O -S fakessh -r "local:$MG_TMP/src" "$MG_TMP/pull"
    diff -r "$MG_TMP/src" "$MG_TMP/pull" || die "scp -O pull: trees differ"
    # With -O the far shell reads a remote path (globs), as over ssh: quoted
    # for it, as with ssh.
    local far
    printf -v far '%q' "$MG_TMP/src/it's \"quoted\""
    run_mg_sep scp -q -O -S fakessh "local:$far" "$MG_TMP/one"
    assert "$(cat "$MG_TMP/one")" == "b" "one quoted name, pulled"
    no_pwned
}

@test "sftp -b: put, get, ls, rename, rm with hostile names" {
    skip_if_no_program sftp
    make_tree "$MG_TMP/src"
    mkdir "$MG_TMP/far"
    # sftp's batch syntax: double quotes, backslash-escaped inside.
    cat >"$MG_TMP/batch" <<EOF
cd "$MG_TMP/far"
put "$MG_TMP/src/it's \\"quoted\\"" "a \\"b\\" \$(c)"
put "$MG_TMP/src/sub dir/blob" blob
ls -1
rename blob "blob moved"
get "blob moved" "$MG_TMP/got"
rm "a \\"b\\" \$(c)"
ls -1
EOF
    run_mg_sep sftp -S fakessh -b "$MG_TMP/batch" local+local
    cmp "$MG_TMP/src/sub dir/blob" "$MG_TMP/got" || die "get after rename changed the file"
    assert "$(ls "$MG_TMP/far")" == "blob moved" "renamed, the other removed"
    assert "$output" =~ 'a "b" \$\(c\)' "ls listed the odd name"
    no_pwned
}

@test "rsync -a --delete: push and pull mirror, extra files removed" {
    skip_if_no_program rsync
    make_tree "$MG_TMP/src" nl
    mkdir -p "$MG_TMP/dst"
    printf 'x\n' >"$MG_TMP/dst/stale file"
    run_mg_sep rsync -a --delete -e fakessh "$MG_TMP/src/" "local+local:$MG_TMP/dst/"
    diff -r "$MG_TMP/src" "$MG_TMP/dst" || die "push: trees differ (stale file kept?)"
    rm "$MG_TMP/src/with space"
    printf 'new\n' >"$MG_TMP/src/added"
    run_mg_sep rsync -a --delete -e fakessh "$MG_TMP/src/" "local:$MG_TMP/dst/"
    diff -r "$MG_TMP/src" "$MG_TMP/dst" || die "second push: trees differ"
    mkdir -p "$MG_TMP/pulled"
    printf 'x\n' >"$MG_TMP/pulled/stale"
    run_mg_sep rsync -a --delete -e fakessh "local+local:$MG_TMP/dst/" "$MG_TMP/pulled/"
    diff -r "$MG_TMP/src" "$MG_TMP/pulled" || die "pull: trees differ"
    no_pwned
}

@test "rsync through ssh+sudo: root writes a root-owned directory, mgtest_a is refused" {
    need_sshd
    need_users
    skip_if_no_program rsync
    make_tree "$MG_TMP/src" nl
    local root_dir=$MG_TMP/root-owned
    mkdir -m 755 "$root_dir"
    run_mg_sep rsync -a --delete -e "$(ssh_fake)" "$MG_TMP/src/" "root@ssh=127.0.0.1+sudo=root:$root_dir/"
    diff -r "$MG_TMP/src" "$root_dir" || die "push through sudo:root: trees differ"
    run_mg_sep rsync -a -e "$(ssh_fake)" "root@ssh=127.0.0.1+sudo=root:$root_dir/" "$MG_TMP/back/"
    diff -r "$MG_TMP/src" "$MG_TMP/back" || die "pull through sudo:root: trees differ"

    # mgtest_a may not write there (nor even reach $MG_TMP): rsync fails.
    chmod 755 "$MG_TMP"
    printf 'z\n' >"$MG_TMP/src/only-here"
    run_mg_sep '?' rsync -a -e "$(ssh_fake)" "$MG_TMP/src/" "root@ssh=127.0.0.1+sudo=mgtest_a:$root_dir/"
    [[ $status -ne 0 ]] || die "rsync as mgtest_a into a root-owned directory succeeded"
    assert "$stderr" =~ "Permission denied" "the far user's refusal"
    [[ ! -e $root_dir/only-here ]] || die "a file arrived all the same"
    [[ -z $(find "$root_dir" -newer "$MG_TMP/src/only-here" -print -quit) ]] || die "something changed"
}

@test "git clone, fetch and push through ssh+sudo with GIT_SSH_COMMAND=fakessh" {
    need_sshd
    skip_if_no_program git
    local g=(git -c user.email=t@t -c user.name=t -c init.defaultBranch=main -c advice.detachedHead=false)
    # A hostile repository name: git quotes it for the far shell.
    local repo="$MG_TMP/it's \$(touch pwned) \"repo\" dir.git"
    local url="root@ssh=127.0.0.1+sudo=root:$repo"
    "${g[@]}" init -q --bare "$repo"
    "${g[@]}" init -q "$MG_TMP/seed"
    "${g[@]}" -C "$MG_TMP/seed" commit -q --allow-empty -m one
    "${g[@]}" -C "$MG_TMP/seed" push -q "$repo" HEAD:refs/heads/main
    export GIT_SSH_COMMAND; GIT_SSH_COMMAND=$(ssh_fake)

    run_mg_sep "${g[@]}" clone -q "$url" "$MG_TMP/a"
    run_mg_sep "${g[@]}" clone -q "$url" "$MG_TMP/b"
    "${g[@]}" -C "$MG_TMP/a" commit -q --allow-empty -m two
    run_mg_sep "${g[@]}" -C "$MG_TMP/a" push -q origin HEAD:main
    run_mg_sep "${g[@]}" -C "$MG_TMP/b" fetch -q origin
    assert "$("${g[@]}" -C "$MG_TMP/b" log --format=%s origin/main | head -1)" == "two" "fetched a's push"
    # The protocol git asked for with SendEnv=GIT_PROTOCOL reached the far git.
    GIT_TRACE_PACKET=1 run_mg_sep "${g[@]}" -C "$MG_TMP/b" fetch origin
    assert "$stderr" =~ "version 2" "git protocol v2 over fakessh"
    no_pwned
}

@test "scp, sftp and rsync over the private sshd (no chain beyond one ssh hop)" {
    need_sshd
    skip_if_no_program scp
    skip_if_no_program rsync
    make_tree "$MG_TMP/src" nl
    local s
    s=$(ssh_fake)
    run_mg_sep scp -q -S fakessh -F "$MG_SSH_CONFIG" -P "$MG_SSH_PORT" -r "$MG_TMP/src" "root@127.0.0.1:$MG_TMP/scp"
    diff -r "$MG_TMP/src" "$MG_TMP/scp" || die "scp: trees differ"
    printf 'get "%s" "%s"\n' "$MG_TMP/src/sub dir/blob" "$MG_TMP/got" >"$MG_TMP/batch"
    run_mg_sep sftp -S fakessh -F "$MG_SSH_CONFIG" -P "$MG_SSH_PORT" -b "$MG_TMP/batch" root@127.0.0.1
    cmp "$MG_TMP/src/sub dir/blob" "$MG_TMP/got" || die "sftp get"
    run_mg_sep rsync -a --delete -e "$s" "$MG_TMP/src/" "root@127.0.0.1:$MG_TMP/rsync/"
    diff -r "$MG_TMP/src" "$MG_TMP/rsync" || die "rsync: trees differ"
    no_pwned
}

@test "sftp as a user who may not: Permission denied from the far sftp-server" {
    need_users
    skip_if_no_program sftp
    chmod 755 "$MG_TMP"
    printf 'secret\n' >"$MG_TMP/secret"
    chmod 600 "$MG_TMP/secret"
    printf 'mine\n' >"$MG_TMP/mine"
    cat >"$MG_TMP/batch" <<EOF
put "$MG_TMP/mine" "$MG_HOME_A/mine"
-get "$MG_TMP/secret" "$MG_TMP/stolen"
-put "$MG_TMP/mine" /etc/fakessh-test-planted
-rm /etc/passwd
-rename /etc/hostname /etc/hostname.moved
EOF
    run_mg_sep sftp -S fakessh -b "$MG_TMP/batch" local/sudo:mgtest_a
    assert "$(cat "$MG_HOME_A/mine")" == "mine" "what mgtest_a may write, written"
    [[ $(grep -c "Permission denied" <<<"$stderr") -ge 4 ]] || die "four refusals wanted"
    [[ ! -e $MG_TMP/stolen && ! -e /etc/fakessh-test-planted && -e /etc/passwd && -e /etc/hostname ]] ||
        die "a refused request had an effect"
    rm -f "$MG_HOME_A/mine"
}

# rsync through local/local, and kill -9 the agent WHICH (1: the first,
# 2: the far one, whose child the far rsync is): 255 from fakessh naming
# the hop, nothing of the far end left running, and no file left behind.
function rsync_agent_killed() {
    skip_if_no_program rsync
    mkdir "$MG_TMP/big" "$MG_TMP/dst"
    head -c 64M /dev/zero >"$MG_TMP/big/file"
    rsync -a --bwlimit=4000 -e fakessh "$MG_TMP/big/" "local+local:$MG_TMP/dst/" 2>"$MG_TMP/err" &
    local rs=$! fk agent far victim i
    fk=$(wait_child "$rs" fakessh) || die "no fakessh under rsync"
    agent=$(wait_child "$fk" mitogen:1) || die "no agent under fakessh"
    # Once the far rsync has begun writing its temp file.
    for ((i = 0; i < $(mg_secs 100); i++)); do
        compgen -G "$MG_TMP/dst/.file.*" >/dev/null && break
        sleep 0.1
    done
    far=$(descendants "$agent")
    victim=$agent
    if [[ $1 == 2 ]]; then
        victim=$(pgrep -P "$agent" | head -1)
        [[ -n $victim ]] || die "no far agent"
    fi
    kill -9 "$victim"
    local rc=0
    wait "$rs" || rc=$?
    cat "$MG_TMP/err"
    [[ $rc -ne 0 ]] || die "rsync succeeded with its hop killed"
    grep -q "^fakessh: local/local: .*lost" "$MG_TMP/err" || die "fakessh's error naming the hop"
    gone $far || die "the far end is still running"
    assert "$(ls -A "$MG_TMP/dst")" == "" "no file and no temp file left"
}

@test "a hop lost mid-rsync: 255 from fakessh naming the hop, no partial file at the far end" {
    rsync_agent_killed 1
}

@test "the far agent killed mid-rsync: its rsync still removes its temp file (SIGTERM first)" {
    rsync_agent_killed 2
}

@test "an ssh hop lost mid-rsync (its ssh killed): 255 naming it, nothing left" {
    need_sshd
    skip_if_no_program rsync
    mkdir "$MG_TMP/big" "$MG_TMP/dst"
    head -c 64M /dev/zero >"$MG_TMP/big/file"
    rsync -a --bwlimit=4000 -e "$(ssh_fake)" "$MG_TMP/big/" "root@ssh=127.0.0.1+local:$MG_TMP/dst/" 2>"$MG_TMP/err" &
    local rs=$! fk ssh p
    fk=$(wait_child "$rs" fakessh) || die "no fakessh under rsync"
    for ((i = 0; i < $(mg_secs 100); i++)); do
        compgen -G "$MG_TMP/dst/.file.*" >/dev/null && break
        sleep 0.1
    done
    # The hop's ssh, found once the far rsync writes: before it, fakessh
    # also runs a short 'ssh -G' to read the configuration.
    for p in $(pgrep -P "$fk" -x ssh); do
        tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- ' -G ' || ssh=$p
    done
    [[ -n $ssh ]] || die "no ssh session under fakessh"
    kill -9 "$ssh"
    local rc=0
    wait "$rs" || rc=$?
    cat "$MG_TMP/err"
    [[ $rc -ne 0 ]] || die "rsync succeeded with its hop killed"
    grep -q "^fakessh: ssh:.*127.0.0.1.*lost" "$MG_TMP/err" || die "fakessh's error naming the ssh hop"
    for ((i = 0; i < $(mg_secs 100); i++)); do
        [[ -z $(ls -A "$MG_TMP/dst") ]] && break
        sleep 0.1
    done
    assert "$(ls -A "$MG_TMP/dst")" == "" "no file and no temp file left"
}

# kill_client_mid_transfer CLIENT_PID: once the far side runs, kill -9 the
# client and its own children; every process under fakessh must end.
function kill_client_mid_transfer() {
    local client=$1 fk far kids
    fk=$(wait_child "$client" fakessh) || die "no fakessh under the client"
    for ((i = 0; i < $(mg_secs 100); i++)); do
        far=$(descendants "$fk")
        [[ $(ps -o comm= -p "${far//$'\n'/,}" 2>/dev/null) == *"$2"* ]] && break
        sleep 0.1
    done
    sleep 0.5
    kids=$(pgrep -P "$client" | grep -vx "$fk" || true)
    kill -9 "$client" $kids
    gone "$fk" $far || die "processes left after the client was killed"
}

@test "the client killed mid-transfer: no process left at the far end" {
    skip_if_no_program rsync
    skip_if_no_program scp
    mkdir "$MG_TMP/big"
    head -c 64M /dev/zero >"$MG_TMP/big/file"
    # rsync push, rsync pull, scp -O push, scp (SFTP) pull.
    rsync -a --bwlimit=4000 -e fakessh "$MG_TMP/big/" "local+local:$MG_TMP/d1/" 2>/dev/null &
    kill_client_mid_transfer $! rsync
    rsync -a --bwlimit=4000 -e fakessh "local+local:$MG_TMP/big/" "$MG_TMP/d2/" 2>/dev/null &
    kill_client_mid_transfer $! rsync
    scp -q -O -l 32000 -S fakessh "$MG_TMP/big/file" "local+local:$MG_TMP/d3" 2>/dev/null &
    kill_client_mid_transfer $! scp
    scp -q -l 32000 -S fakessh "local+local:$MG_TMP/big/file" "$MG_TMP/d4" 2>/dev/null &
    kill_client_mid_transfer $! sftp-server
    wait || true
}

# sftp_both BATCH: sftp -b BATCH through fakessh on fresh copies of
# $MG_TMP/fixture at $MG_TMP/w, served by OpenSSH's sftp-server and by
# ours; each one's output, messages and resulting files (type, mode,
# size, mtime unless new, owner, content) in $MG_TMP/ossh and $MG_TMP/ours.
function sftp_both() {
    local batch=$1 server sv
    for sv in ossh ours; do
        server=builtin
        [[ $sv == ours ]] || server=$(openssh_server)
        rm -rf "$MG_TMP/w" && cp -a "$MG_TMP/fixture" "$MG_TMP/w"
        FAKESSH_SFTP_SERVER=$server run_mg_sep '?' sftp -S fakessh -b "$batch" local
        {
            printf '%s\n' "status $status" "$output" "$stderr"
            cd "$MG_TMP/w"
            find . -printf '%p %y %m %s %u:%g %T@ ' -exec sh -c 'test -f "$1" && md5sum <"$1" || echo' sh {} \; |
                sed -E "s/ $(date +%s | cut -c1-7)[0-9]{3}\.[0-9]+ / now /; s/ ([0-9]+)\.0+ / \1 /" | sort
            cd - >/dev/null
        } >"$MG_TMP/$sv"
    done
}

@test "sftp -b, our server and OpenSSH's: the same output and the same files (ls -l, cp, ln, chmod, -p, reget, reput)" {
    skip_if_no_program sftp
    [[ -n $(openssh_server) ]] || skip "no OpenSSH sftp-server here to compare with"
    local f=$MG_TMP/fixture
    mkdir -p "$f/far/sub" "$f/loc/tree/deep"
    printf 'hello\n' >"$f/loc/file"
    chmod 640 "$f/loc/file"
    touch -d '2001-09-09 01:46:40' "$f/loc/file"
    printf 'a\n' >"$f/loc/tree/a"
    chmod 600 "$f/loc/tree/a"
    chmod 750 "$f/loc/tree/deep"
    printf 'remote\n' >"$f/far/r"
    chmod 604 "$f/far/r"
    touch -d '2002-02-02 02:02' "$f/far/r"
    head -c 200000 /dev/zero | tr '\0' y >"$f/far/rbig"
    head -c 100000 /dev/zero | tr '\0' y >"$f/loc/rbig"
    head -c 300000 /dev/zero | tr '\0' x >"$f/loc/big"
    head -c 100000 /dev/zero | tr '\0' x >"$f/far/big"
    cat >"$MG_TMP/batch" <<EOF
cd $MG_TMP/w/far
lcd $MG_TMP/w/loc
put -p file
put -rp tree ptree
put -r tree tree
get -p r
reget rbig
reput big
ls -l
ls -l r file
ls -ln r
ln -s r sym
ln r hard
ls -l sym hard
chmod 700 file
-chmod -h 600 sym
chown -h 0 sym
cp r copied
-cp nothing other
rename copied big
mkdir newdir
rmdir newdir
-rmdir sub/nothing
-mkdir sub
-rename r sub
-ln -s r r
df -h
EOF
    sftp_both "$MG_TMP/batch"
    # df's figures move between the two runs.
    sed -i -E '/^ +[0-9.]+[KMGTPE]?B? /d' "$MG_TMP/ossh" "$MG_TMP/ours"
    diff -u "$MG_TMP/ossh" "$MG_TMP/ours" || die "OpenSSH's server (-) and ours (+) differ"
}
