#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
#
# mitogen-sftp-server, the SFTP server fakessh pushes for '-s sftp'
# (FAKESSH_SFTP_SERVER=builtin forces it; by default it is chosen where
# the far end has no sftp-server): the real sftp, scp (its default SFTP
# mode) and sshfs over a local chain, into a root that holds only busybox
# (built as in 400-setns.bats), and through the private sshd; hostile
# names; refusals as an unprivileged user; broken packet streams.

load helpers
load sshd
load users

SERVER=$MG_BUILD_DIR/cmd/mitogen-sftp-server

# children_of PID: the pids of the processes whose parent is PID.
function children_of() {
    local parent=$1 d stat
    local -a f
    for d in /proc/[0-9]*; do
        stat=$(cat "$d/stat" 2>/dev/null) || continue
        read -r -a f <<<"${stat##*) }"
        if [[ ${f[1]:-} == "$parent" ]]; then
            printf '%s\n' "${d#/proc/}"
        fi
    done
}

# A busybox-only root in its own namespaces (as 400-setns.bats makes
# it): sets MG_LEADER, or MG_BOX_SKIP to why it cannot run here.
function start_box() {
    local rootfs=$BATS_FILE_TMPDIR/rootfs bb upid i a
    export MG_BOX_SKIP= MG_LEADER= MG_ROOTFS=$rootfs
    bb=$(command -v busybox || true)
    if [[ $(id -u) -ne 0 ]] || ! command -v unshare >/dev/null || [[ -z $bb ]]; then
        MG_BOX_SKIP='needs root, unshare and a static busybox (busybox-static)'
        return
    fi
    mkdir -p "$rootfs"/{bin,etc,tmp,dev,proc,root}
    chmod 1777 "$rootfs/tmp"
    cp "$bb" "$rootfs/bin/busybox"
    for a in sh head wc chmod sleep rm cat ls hostname; do
        ln -s busybox "$rootfs/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rootfs/etc/passwd"
    printf 'root:x:0:\n' >"$rootfs/etc/group"
    mknod -m 666 "$rootfs/dev/null" c 1 3
    unshare --fork --pid --mount --uts --ipc --net --mount-proc="$rootfs/proc" \
        chroot "$rootfs" /bin/sh -c 'hostname sftpbox && exec sleep 600' \
        </dev/null >/dev/null 2>&1 3>&- &
    upid=$!
    echo "$upid" >"$BATS_FILE_TMPDIR/box-pids"
    for ((i = 0; i < 100; i++)); do
        MG_LEADER=$(children_of "$upid" | head -n 1)
        if [[ -n $MG_LEADER && $(cat "/proc/$MG_LEADER/comm" 2>/dev/null) == sleep ]]; then
            echo "$MG_LEADER" >>"$BATS_FILE_TMPDIR/box-pids"
            return
        fi
        sleep 0.05
    done
    MG_BOX_SKIP='cannot start a container with unshare'
}

function setup_file() {
    start_sshd
    setup_users
    start_box
}

function teardown_file() {
    local pid
    if [[ -f $BATS_FILE_TMPDIR/box-pids ]]; then
        # Killing a pid namespace's init ends everything in it.
        while read -r pid; do
            kill -KILL "$pid" 2>/dev/null || true
        done <"$BATS_FILE_TMPDIR/box-pids"
        while read -r pid; do
            wait "$pid" 2>/dev/null || true
        done <"$BATS_FILE_TMPDIR/box-pids"
    fi
    teardown_users
    stop_sshd
}

# A tree with awkward names: blanks, quotes, $(), a newline, a non-UTF-8
# byte, a big binary file (several READ and WRITE requests), an empty one.
function make_tree() {
    local d=$1
    mkdir -p "$d/sub dir/deeper"
    printf 'a\n' >"$d/with space"
    printf 'b\n' >"$d/it's \"quoted\""
    printf 'c\n' >"$d/\$(touch pwned)"
    printf 'd\n' >"$d/new"$'\n'"line"
    printf 'e\n' >"$d/latin1-"$'\xe9'
    : >"$d/sub dir/deeper/empty"
    head -c 1100000 /dev/urandom >"$d/sub dir/blob"
}

# sftp -b BATCH against DEST through fakessh, the builtin server forced.
function sftp_builtin() {
    local dest=$1 batch=$2
    shift 2
    FAKESSH_SFTP_SERVER=builtin run_mg_sep "$@" sftp -S fakessh -b "$batch" "$dest"
}

@test "sftp -b over a local chain, builtin forced: put, get, ls, mkdir, rename, rm, -r trees" {
    skip_if_no_program sftp
    make_tree "$MG_TMP/src"
    mkdir "$MG_TMP/far"
    cat >"$MG_TMP/batch" <<EOB
cd "$MG_TMP/far"
mkdir made
put "$MG_TMP/src/sub dir/blob" "made/blob one"
ls -l made
rename "made/blob one" "made/blob two"
get "made/blob two" "$MG_TMP/got-blob"
put -r "$MG_TMP/src" tree
get -r tree "$MG_TMP/back"
rm "made/blob two"
rmdir made
ls
EOB
    sftp_builtin local "$MG_TMP/batch"
    assert "$output" =~ "blob one" "ls -l names the file"
    assert "$output" =~ "-rw" "ls -l has ls' mode column (longname)"
    cmp "$MG_TMP/src/sub dir/blob" "$MG_TMP/got-blob" || die "put then get changed the file"
    diff -r "$MG_TMP/src" "$MG_TMP/far/tree" || die "put -r: the trees differ"
    diff -r "$MG_TMP/src" "$MG_TMP/back" || die "get -r: the trees differ"
    assert "$(ls -A "$MG_TMP/far")" == "tree" "made/ and its file are gone (rename, rm, rmdir)"
    [[ ! -e $MG_TMP/far/tree/pwned && ! -e pwned && ! -e $MG_TMP/pwned ]] || die "a name was run"
    assert "$(stat -c %a "$MG_TMP/far/tree/sub dir")" == "$(stat -c %a "$MG_TMP/src/sub dir")" "modes kept"
}

@test "scp -S fakessh (SFTP mode), builtin forced: a file, -r with hostile names, -p times" {
    skip_if_no_program scp
    make_tree "$MG_TMP/src"
    mkdir "$MG_TMP/far"
    FAKESSH_SFTP_SERVER=builtin run_mg_sep scp -p -S fakessh "$MG_TMP/src/sub dir/blob" "local:$MG_TMP/far/blob"
    cmp "$MG_TMP/src/sub dir/blob" "$MG_TMP/far/blob" || die "scp push changed the file"
    assert "$(stat -c %Y "$MG_TMP/far/blob")" == "$(stat -c %Y "$MG_TMP/src/sub dir/blob")" "-p: mtime kept"
    FAKESSH_SFTP_SERVER=builtin run_mg_sep scp -r -S fakessh "$MG_TMP/src" "local:$MG_TMP/far/tree"
    diff -r "$MG_TMP/src" "$MG_TMP/far/tree" || die "scp -r push: the trees differ"
    FAKESSH_SFTP_SERVER=builtin run_mg_sep scp -r -S fakessh "local:$MG_TMP/far/tree" "$MG_TMP/back"
    diff -r "$MG_TMP/src" "$MG_TMP/back" || die "scp -r pull: the trees differ"
    # A missing source: scp's error from our NO_SUCH_FILE status.
    FAKESSH_SFTP_SERVER=builtin run_mg_sep 1 scp -S fakessh "local:$MG_TMP/nothing here" "$MG_TMP/x"
    assert "$stderr" =~ "No such file" "the missing file is named as missing"
}

@test "as an unprivileged user (sudo:mgtest_a): refusals with SFTP's statuses" {
    skip_if_no_program sftp
    need_users
    # Root's files in a directory mgtest_a may read but not write, and
    # one mgtest_a may not enter.
    chmod 755 "$MG_TMP"
    mkdir -m 755 "$MG_TMP/ro" "$MG_TMP/mine"
    mkdir -m 700 "$MG_TMP/secret"
    printf 'x\n' >"$MG_TMP/ro/file"
    printf 'y\n' >"$MG_TMP/secret/file"
    chown mgtest_a "$MG_TMP/mine"
    printf 'z\n' >"$MG_TMP/local"
    local -A refused=(
        ["put $MG_TMP/local $MG_TMP/ro/new"]='Permission denied'
        ["rm $MG_TMP/ro/file"]='Permission denied'
        ["mkdir $MG_TMP/ro/d"]='Permission denied'
        ["rename $MG_TMP/ro/file $MG_TMP/ro/moved"]='Permission denied'
        # OpenSSH 9.2p1's client reports any failed STAT before a get as
        # "not found", whatever the status: the server's own answer is
        # checked below, on the wire.
        ["get $MG_TMP/secret/file $MG_TMP/got"]='Permission denied|not found'
        ["ls $MG_TMP/secret"]='Permission denied'
        ["get $MG_TMP/ro/missing $MG_TMP/got"]='not found'
        ["rmdir $MG_TMP/ro/missing"]='No such file'
    )
    local cmd
    for cmd in "${!refused[@]}"; do
        printf '%s\n' "$cmd" >"$MG_TMP/batch"
        sftp_builtin sudo=mgtest_a "$MG_TMP/batch" 1
        assert "$stderr" =~ "${refused[$cmd]}" "$cmd: refused"
    done
    assert "$(ls -A "$MG_TMP/ro")" == "file" "nothing changed in ro/"
    [[ ! -e $MG_TMP/got ]] || die "a refused get left a file"
    # What mgtest_a may do works, and the file is mgtest_a's.
    printf 'put %s %s\n' "$MG_TMP/local" "$MG_TMP/mine/new" >"$MG_TMP/batch"
    sftp_builtin sudo=mgtest_a "$MG_TMP/batch"
    assert "$(stat -c %U "$MG_TMP/mine/new")" == "mgtest_a" "written as mgtest_a"
    # On the wire, as mgtest_a: STAT (id 1) and OPEN (id 2) of the file
    # in secret/ get SSH_FX_PERMISSION_DENIED (3), a STAT of a missing
    # file (id 3) SSH_FX_NO_SUCH_FILE (2).
    [[ -x $SERVER ]] || return 0
    cp "$SERVER" "$MG_TMP/server"
    chmod 755 "$MG_TMP/server"
    python3 - "$MG_TMP/secret/file" "$MG_TMP/ro/missing" >"$MG_TMP/in" <<'PY'
import struct, sys
def pkt(t, body):
    return struct.pack(">IB", len(body) + 1, t) + body
def s(b):
    return struct.pack(">I", len(b)) + b
secret, missing = (a.encode() for a in sys.argv[1:])
out = pkt(1, struct.pack(">I", 3))
out += pkt(17, struct.pack(">I", 1) + s(secret))
out += pkt(3, struct.pack(">I", 2) + s(secret) + struct.pack(">II", 1, 0))
out += pkt(17, struct.pack(">I", 3) + s(missing))
sys.stdout.buffer.write(out)
PY
    runuser -u mgtest_a -- "$MG_TMP/server" -b <"$MG_TMP/in" >"$MG_TMP/out" 2>/dev/null || true
    local hex
    hex=$(od -An -v -tx1 "$MG_TMP/out" | tr -d ' \n')
    assert "$hex" =~ "650000000100000003" "STAT of secret/file: SSH_FX_PERMISSION_DENIED"
    assert "$hex" =~ "650000000200000003" "OPEN of secret/file: SSH_FX_PERMISSION_DENIED"
    assert "$hex" =~ "650000000300000002" "STAT of a missing file: SSH_FX_NO_SUCH_FILE"
}

@test "into a root holding only busybox: the builtin is chosen by itself (sftp, scp)" {
    skip_if_no_program sftp
    [[ -z $MG_BOX_SKIP ]] || skip "$MG_BOX_SKIP"
    if [[ $(file -L "$MITOGEN_AGENT") == *"dynamically linked"* || $(file -L "$SERVER") == *"dynamically linked"* ]]; then
        skip "needs the static agent and server; this build's are dynamic (-Dstatic_agent=disabled)"
    fi
    export PATH=$MG_SRC_DIR/tests/stubs:$PATH MG_STUB_DOCKER_PID=$MG_LEADER
    unset FAKESSH_SFTP_SERVER
    make_tree "$MG_TMP/src"
    cat >"$MG_TMP/batch" <<EOB
mkdir /tmp/in
put -r "$MG_TMP/src" /tmp/in/tree
rename "/tmp/in/tree/with space" /tmp/in/renamed
get -r /tmp/in "$MG_TMP/back"
EOB
    run_mg_sep sftp -S fakessh -b "$MG_TMP/batch" setns=docker=sftpbox
    assert "$(cat "$MG_ROOTFS/tmp/in/renamed")" == "a" "rename inside the box"
    mv "$MG_TMP/back/renamed" "$MG_TMP/back/tree/with space"
    diff -r "$MG_TMP/src" "$MG_TMP/back/tree" || die "sftp -r into the box and back: the trees differ"

    run_mg_sep scp -r -S fakessh "$MG_TMP/src" "setns=docker=sftpbox:/tmp/scp"
    diff -r "$MG_TMP/src" "$MG_ROOTFS/tmp/scp" || die "scp -r into the box: the trees differ"
    rm -rf "${MG_ROOTFS:?}/tmp/in" "${MG_ROOTFS:?}/tmp/scp"
}

@test "through the private sshd: sftp and scp with the builtin forced" {
    need_sshd
    skip_if_no_program sftp
    make_tree "$MG_TMP/src"
    mkdir "$MG_TMP/far"
    printf 'put -r "%s" "%s"\nls "%s"\n' "$MG_TMP/src" "$MG_TMP/far/tree" "$MG_TMP/far" >"$MG_TMP/batch"
    FAKESSH_SFTP_SERVER=builtin run_mg_sep sftp -S fakessh -F "$MG_SSH_CONFIG" -P "$MG_SSH_PORT" \
        -b "$MG_TMP/batch" root@127.0.0.1
    diff -r "$MG_TMP/src" "$MG_TMP/far/tree" || die "sftp over ssh: the trees differ"
    FAKESSH_SFTP_SERVER=builtin run_mg_sep scp -r -S fakessh -F "$MG_SSH_CONFIG" -P "$MG_SSH_PORT" \
        "root@127.0.0.1:$MG_TMP/far/tree" "$MG_TMP/back"
    diff -r "$MG_TMP/src" "$MG_TMP/back" || die "scp over ssh: the trees differ"
}

@test "sshfs over fakessh, builtin forced" {
    skip_if_no_program sshfs
    skip_if_no_program fusermount
    [[ -c /dev/fuse ]] || skip "no /dev/fuse here"
    mkdir "$MG_TMP/far" "$MG_TMP/mnt"
    printf 'hello\n' >"$MG_TMP/far/a file"
    # Output to a file: sshfs goes to the background, and fakessh with it,
    # holding its stderr until the unmount.
    if ! FAKESSH_SFTP_SERVER=builtin timeout "$(mg_secs 30)" sshfs -o ssh_command=fakessh \
        "local:$MG_TMP/far" "$MG_TMP/mnt" >"$MG_TMP/sshfs.log" 2>&1 3>&-; then
        skip "FUSE cannot mount here: $(head -n 1 "$MG_TMP/sshfs.log")"
    fi
    local rc=0 odd=$'it\'s "q" $(touch pwned) \n\xe9'
    {
        [[ $(cat "$MG_TMP/mnt/a file") == hello ]] &&
            printf 'new\n' >"$MG_TMP/mnt/new" && mkdir "$MG_TMP/mnt/dir" &&
            mv "$MG_TMP/mnt/new" "$MG_TMP/mnt/dir/moved" &&
            printf 'odd\n' >"$MG_TMP/mnt/$odd" && [[ $(ls "$MG_TMP/mnt" | grep -c pwned) -eq 1 ]]
    } || rc=1
    fusermount -u "$MG_TMP/mnt"
    [[ $rc -eq 0 ]] || die "reading or writing through sshfs failed"
    assert "$(cat "$MG_TMP/far/dir/moved")" == "new" "written through the mount"
    assert "$(cat "$MG_TMP/far/$odd")" == "odd" "a hostile name, byte for byte"
    [[ ! -e pwned && ! -e $MG_TMP/pwned && ! -e $MG_TMP/far/pwned ]] || die "a name was run"
}


INIT='\x00\x00\x00\x05\x01\x00\x00\x00\x03'

@test "mitogen-sftp-server alone: broken streams end it with a message, never a hang" {
    [[ -x $SERVER ]] || skip "no $SERVER"
    # Nothing at all: a clean end.
    run_mg_sep "$SERVER" -b </dev/null
    assert "$output$stderr" == "" "no input: no output, status 0"

    printf '\xff\xff\xff\xff' >"$MG_TMP/in"
    run_mg_sep 1 "$SERVER" -b <"$MG_TMP/in"
    assert "$stderr" =~ "bad packet length 4294967295" "an oversize length"

    printf "$INIT"'\x00\x00\x01\x00\x03\x00\x00' >"$MG_TMP/in"
    run_mg_sep 1 "$SERVER" -b <"$MG_TMP/in"
    assert "$stderr" =~ "truncated packet" "a packet cut short"

    printf "$INIT"'\x00\x00' >"$MG_TMP/in"
    run_mg_sep 1 "$SERVER" -b <"$MG_TMP/in"
    assert "$stderr" =~ "truncated packet length" "a length cut short"

    printf '\x00\x00\x00\x05\x11\x00\x00\x00\x01' >"$MG_TMP/in"
    run_mg_sep 1 "$SERVER" -b <"$MG_TMP/in"
    assert "$stderr" =~ "a request before INIT" "no INIT first"

    # Through fakessh: the server's message and status, no hang.
    FAKESSH_SFTP_SERVER=builtin run_mg_sep 1 fakessh -s local sftp <<<"garbage!"
    assert "$stderr" =~ "mitogen-sftp-server: bad packet length" "the far end's message"
}

@test "mitogen-sftp-server alone: corrupt requests get BAD_MESSAGE or OP_UNSUPPORTED, and it goes on" {
    [[ -x $SERVER ]] || skip "no $SERVER"
    # INIT; an OPEN whose path string claims 64 KiB (id 1); type 99 (id
    # 2); a REALPATH of "/" (id 3), answered after both.
    printf "$INIT"'\x00\x00\x00\x09\x03\x00\x00\x00\x01\x00\x01\x00\x00' >"$MG_TMP/in"
    printf '\x00\x00\x00\x05\x63\x00\x00\x00\x02' >>"$MG_TMP/in"
    printf '\x00\x00\x00\x0a\x10\x00\x00\x00\x03\x00\x00\x00\x01/' >>"$MG_TMP/in"
    run_mg_sep "$SERVER" -b <"$MG_TMP/in"
    local hex
    hex=$(od -An -v -tx1 "$MG_STDOUT_FILE" | tr -d ' \n')
    assert "$hex" =~ "^0000[0-9a-f]{4}0200000003" "VERSION 3 first"
    assert "$hex" =~ "6500000001000000050" "id 1: SSH_FX_BAD_MESSAGE"
    assert "$hex" =~ "6500000002000000080" "id 2: SSH_FX_OP_UNSUPPORTED"
    assert "$hex" =~ "68000000030000000100000001" "id 3: a NAME with one entry"
}

@test "mitogen-sftp-server alone: a non-blocking stdin and stdout are waited on, not taken for the end" {
    [[ -x $SERVER ]] || skip "no $SERVER"
    skip_if_no_program python3
    head -c 300000 /dev/urandom >"$MG_TMP/big"
    # Pipes with O_NONBLOCK on the server's ends (as a caller that set it
    # on ones it shares would leave them): INIT comes in two pieces, and
    # a READ's 200 KiB reply is more than the pipe holds until we read.
    cat >"$MG_TMP/nb.py" <<'EOF'
import fcntl, os, struct, subprocess, sys, time
def s(b):
    return struct.pack(">I", len(b)) + b
pkt = s
server, path = sys.argv[1], sys.argv[2].encode()
ri, wi = os.pipe()
ro, wo = os.pipe()
for fd in (ri, wo):
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
p = subprocess.Popen([server, "-b"], stdin=ri, stdout=wo)
os.close(ri)
os.close(wo)
init = pkt(b"\x01" + struct.pack(">I", 3))
os.write(wi, init[:2])
time.sleep(0.5)
os.write(wi, init[2:])
req = pkt(b"\x03" + struct.pack(">I", 1) + s(path) + struct.pack(">II", 1, 0))
req += pkt(b"\x05" + struct.pack(">I", 2) + s(b"\x00\x00\x00\x00") + struct.pack(">QI", 0, 200000))
os.write(wi, req)
time.sleep(0.5)
os.close(wi)
out = b""
while True:
    b = os.read(ro, 65536)
    if not b:
        break
    out += b
rc = p.wait()
print("rc %d" % rc)
i = 0
while i + 4 <= len(out):
    n = struct.unpack(">I", out[i:i + 4])[0]
    print("reply type %d length %d" % (out[i + 4], n))
    i += 4 + n
EOF
    run_mg_sep python3 "$MG_TMP/nb.py" "$SERVER" "$MG_TMP/big"
    assert "$stderr" == "" "no message from the server"
    assert "${lines[0]}" == "rc 0" "the server ended at our end of input, status 0"
    assert "${lines[1]}" =~ "reply type 2 " "VERSION, though INIT came in two pieces"
    assert "${lines[2]}" == "reply type 102 length 13" "a HANDLE for the OPEN"
    assert "${lines[3]}" == "reply type 103 length 200009" "the READ's DATA, whole"
}

# $MG_TMP/rp.py SERVER [ARG...] -- PATH...: INIT, then one REALPATH per
# PATH; a line per answer, "NAME <path>" or "STATUS <code>". Stdin stays
# open until the answers are in (OpenSSH's server quits at end of input
# unanswered).
function write_realpath_client() {
    cat >"$MG_TMP/rp.py" <<'EOF'
import os, select, struct, subprocess, sys
def s(b):
    return struct.pack(">I", len(b)) + b
cut = sys.argv.index("--")
paths = [a.encode() for a in sys.argv[cut + 1:]]
p = subprocess.Popen(sys.argv[1:cut], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
req = s(b"\x01" + struct.pack(">I", 3))
for i, path in enumerate(paths):
    req += s(b"\x10" + struct.pack(">I", i + 1) + s(path))
p.stdin.write(req)
p.stdin.flush()
out, want = b"", len(paths) + 1
def packets(out):
    i, r = 0, []
    while i + 4 <= len(out) and i + 4 + struct.unpack(">I", out[i:i + 4])[0] <= len(out):
        n = struct.unpack(">I", out[i:i + 4])[0]
        r.append(out[i + 4:i + 4 + n])
        i += 4 + n
    return r
while len(packets(out)) < want and select.select([p.stdout], [], [], 20)[0]:
    b = os.read(p.stdout.fileno(), 65536)
    if not b:
        break
    out += b
p.stdin.close()
p.wait()
for b in packets(out)[1:]:
    if b[0] == 104:
        n = struct.unpack(">I", b[9:13])[0]
        print("NAME " + b[13:13 + n].decode())
    else:
        print("STATUS %d" % struct.unpack(">I", b[5:9])[0])
EOF
}

# realpath_both WANT PATH...: our server's REALPATH answers for PATH...
# are WANT, and so are OpenSSH's server's where it is installed.
function realpath_both() {
    local want=$1 found
    shift
    write_realpath_client
    run_mg_sep python3 "$MG_TMP/rp.py" "$SERVER" -b -- "$@"
    assert "$output" == "$want" "our server's answers"
    found=$(openssh_server)
    [[ -n $found ]] || skip "no OpenSSH sftp-server here to compare with"
    run_mg_sep python3 "$MG_TMP/rp.py" "$found" -- "$@"
    assert "$output" == "$want" "OpenSSH's answers are the same"
}

@test "mitogen-sftp-server alone: REALPATH follows a dangling link, as OpenSSH's does" {
    [[ -x $SERVER ]] || skip "no $SERVER"
    skip_if_no_program python3
    local d=$MG_TMP/rp
    mkdir -p "$d/sub"
    ln -s missing "$d/dangling"
    ln -s sub/missing "$d/dangling-in-sub"
    ln -s dangling "$d/to-dangling"
    ln -s "$d/sub/gone" "$d/dangling-abs"
    ln -s nodir/x "$d/dangling-deep"
    local -a paths=("$d/dangling" "$d/dangling-in-sub" "$d/to-dangling" "$d/dangling-abs"
        "$d/dangling-deep" "$d/new" "$d/nodir/new" "$d/sub/../new")
    local want
    # A dangling link names what it points to (a link to a link, too);
    # only the last component may be missing, so a link into a missing
    # directory is NO_SUCH_FILE (2), as is a new name in one.
    want=$(printf '%s\n' "NAME $d/missing" "NAME $d/sub/missing" "NAME $d/missing" \
        "NAME $d/sub/gone" "STATUS 2" "NAME $d/new" "STATUS 2" "NAME $d/new")
    realpath_both "$want" "${paths[@]}"
}

@test "mitogen-sftp-server alone: REALPATH walks a path as OpenSSH's does, not as realpath(3)" {
    [[ -x $SERVER ]] || skip "no $SERVER"
    skip_if_no_program python3
    local d
    d=$(cd "$MG_TMP" && pwd -P)/rw
    mkdir -p "$d/dir/sub" "$d/chain"
    echo x >"$d/file"
    ln -s file "$d/flink"
    ln -s missing "$d/dangling"
    ln -s loop-b "$d/loop-a"
    ln -s loop-a "$d/loop-b"
    touch "$d/chain/l0"
    local i
    for i in {1..34}; do
        ln -s "l$((i - 1))" "$d/chain/l$i"
    done
    # As OpenSSH's server walks it (its own realpath, the same on every
    # system): ".." drops the name before it unlooked-at, so "file/.." is
    # the directory (glibc's realpath(3) says ENOTDIR), and a '/' or "."
    # after a file is dropped; 33 links are followed, not 34 (glibc's
    # follows 40); "//" is "/" (musl's keeps it). Relative paths are from
    # the start directory: the home for ours, the working one for
    # OpenSSH's (both $d here).
    local -a paths=(file/.. file/. file/ "$d/file/" flink/.. flink/ missing/.. missing/.
        dir/../.. dir/sub/../.. dangling dangling/.. loop-a loop-a/.. "" . dir
        "/$d//dir/./sub/" "$d/dir//" // chain/l33 chain/l34 chain/l33/ file/x missing/x/..)
    local want
    want=$(printf '%s\n' "NAME $d" "NAME $d/file" "NAME $d/file" "NAME $d/file" "NAME $d" \
        "NAME $d/file" "STATUS 2" "STATUS 2" "NAME ${d%/*}" "NAME $d" "NAME $d/missing" "STATUS 2" \
        "STATUS 2" "STATUS 2" "NAME $d" "NAME $d" "NAME $d/dir" "NAME $d/dir/sub" "NAME $d/dir" \
        "NAME /" "NAME $d/chain/l0" "STATUS 2" "NAME $d/chain/l0" "STATUS 2" "STATUS 2")
    cd "$d"
    # HOME for ours (its start directory); OpenSSH's starts in $d anyway.
    HOME=$d realpath_both "$want" "${paths[@]}"
}

# A STAT (id 1) of a path holding a NUL, then a second INIT: our server
# answers the STAT (Bad message) and ends at the INIT; OpenSSH's ends at
# the NUL, unanswered. Both announce the same extensions: this tells them
# apart.
BAD_STAT_INIT='\x00\x00\x00\x0c\x11\x00\x00\x00\x01\x00\x00\x00\x03a\x00b'$INIT

# The server's answers to INIT, then to BAD_STAT_INIT, printable bytes
# only. Its stdin stays open until the VERSION is in (OpenSSH's server
# quits at end of input unanswered).
function server_answers() {
    local in=$MG_TMP/srv-in out=$MG_TMP/srv-out pid w r
    rm -f "$in" "$out"
    mkfifo "$in" "$out"
    "$SERVER" "$@" <"$in" >"$out" 2>/dev/null 3>&- &
    pid=$!
    exec {w}>"$in" {r}<"$out"
    printf "$INIT" >&"$w"
    # One read: the reply comes in one write, under PIPE_BUF.
    timeout "$(mg_secs 30)" dd bs=4096 count=1 status=none <&"$r" | tr -c '[:print:]' .
    printf "$BAD_STAT_INIT" >&"$w"
    timeout "$(mg_secs 30)" cat <&"$r" | tr -c '[:print:]' .
    exec {w}>&- {r}<&-
    wait "$pid" || true
}

@test "FAKESSH_SFTP_SERVER: a path runs that program; a bad value is refused; auto prefers a far sftp-server" {
    skip_if_no_program sftp
    # A path: that program at the far end (here our own server, -b).
    printf '#!/bin/sh\necho ran >"%s"\nexec "%s" -b\n' "$MG_TMP/log" "$SERVER" >"$MG_TMP/my server"
    chmod +x "$MG_TMP/my server"
    printf 'ls /\n' >"$MG_TMP/batch"
    FAKESSH_SFTP_SERVER="$MG_TMP/my server" run_mg_sep sftp -S fakessh -b "$MG_TMP/batch" local
    assert "$(cat "$MG_TMP/log")" == "ran" "the given program served"

    FAKESSH_SFTP_SERVER=nonsense run_mg_sep 255 fakessh -s local sftp </dev/null
    assert "$stderr" =~ "FAKESSH_SFTP_SERVER=nonsense: expected auto, builtin or an absolute path" "refused"

    # auto: the far end's own server when it has one (which does not
    # answer BAD_STAT_INIT's STAT).
    local found
    found=$(openssh_server)
    [[ -n $found ]] || skip "no sftp-server on this machine"
    local answers
    answers=$(server_answers)
    assert "$answers" =~ "limits@openssh.com" "auto: a server answered INIT"
    [[ $answers != *"Bad message"* ]] || die "auto: our server served, not $found"
    assert "$(server_answers -b)" =~ "limits@openssh.com.*Bad message" "-b serves itself"
}

@test "under fakessh run: the run pushes the server, auto and builtin alike" {
    skip_if_no_program sftp
    local found
    found=$(openssh_server)
    [[ -n $found ]] || skip "no sftp-server on this machine"
    printf 'x\n' >"$MG_TMP/f"
    printf 'put %s %s\n' "$MG_TMP/f" "$MG_TMP/g" >"$MG_TMP/batch"
    run_mg_sep fakessh run local -- sftp -S fakessh -b "$MG_TMP/batch" .
    cmp "$MG_TMP/f" "$MG_TMP/g" || die "put under fakessh run"
    rm -f "$MG_TMP/g"
    FAKESSH_SFTP_SERVER=builtin run_mg_sep fakessh run local -- sftp -S fakessh -b "$MG_TMP/batch" .
    cmp "$MG_TMP/f" "$MG_TMP/g" || die "put under fakessh run, builtin"
    # Ours answers BAD_STAT_INIT's STAT, the system's would not.
    printf "$INIT$BAD_STAT_INIT" >"$MG_TMP/init"
    FAKESSH_SFTP_SERVER=builtin run_mg_sep fakessh run local -- sh -c \
        'fakessh -s . sftp <"$1" | tr -c "[:print:]" .' sh "$MG_TMP/init"
    assert "$output" =~ "limits@openssh.com.*Bad message" "builtin under fakessh run: our server answered"
}

# $MG_TMP/sc.py SCENARIO SERVER [ARG...]: INIT, then SCENARIO's requests
# one by one (each answer awaited, 5 s at most) from the current
# directory; a line per answer: "STATUS <code>", "HANDLE", "DATA <n>",
# "NAME <name> | <longname>", "ATTRS <mode> <size> <mtime>", or the
# EXTENDED_REPLY's hex. The VERSION packet is in 'version'. The same lines from OpenSSH's server and ours
# show where they differ.
function write_sftp_client() {
    cat >"$MG_TMP/sc.py" <<'EOF'
import os, select, struct, subprocess, sys
def s(b):
    b = b.encode() if isinstance(b, str) else b
    return struct.pack(">I", len(b)) + b
def u32(v): return struct.pack(">I", v)
def u64(v): return struct.pack(">Q", v)
def perm(m): return u32(4) + u32(m)
NOATTRS = u32(0)
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
buf, last = b"", {"id": 0, "handle": b""}
def reply():
    global buf
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
        if not select.select([p.stdout], [], [], 5)[0]:
            return None
        b = os.read(p.stdout.fileno(), 1 << 20)
        if not b:
            return None
        buf += b
    n = struct.unpack(">I", buf[:4])[0]
    pkt, buf = buf[4:4 + n], buf[4 + n:]
    return pkt
def strs(b, i):
    n = struct.unpack(">I", b[i:i + 4])[0]
    return b[i + 4:i + 4 + n], i + 4 + n
def req(t, body):
    last["id"] += 1
    p.stdin.write(s(bytes([t]) + u32(last["id"]) + body))
    p.stdin.flush()
    r = reply()
    if r is None:
        return print("NO REPLY")
    t = r[0]
    if t == 101:
        print("STATUS %d" % struct.unpack(">I", r[5:9]))
    elif t == 102:
        last["handle"] = strs(r, 5)[0]
        print("HANDLE")
    elif t == 103:
        print("DATA %d" % len(strs(r, 5)[0]))
    elif t == 104:
        i = 9
        for _ in range(struct.unpack(">I", r[5:9])[0]):
            name, i = strs(r, i)
            long, i = strs(r, i)
            fl = struct.unpack(">I", r[i:i + 4])[0]
            i += 4 + (8 if fl & 1 else 0) + (8 if fl & 2 else 0) + (4 if fl & 4 else 0) + (8 if fl & 8 else 0)
            print("NAME %s | %s" % (name.decode(errors="replace"), long.decode(errors="replace")))
    elif t == 105:
        fl, size, _, _, mode, _, mtime = struct.unpack(">IQIIIII", r[5:37])
        print("ATTRS %o %d %d" % (mode, size, mtime))
    else:
        print("%d %s" % (t, r[5:].hex()))
def h():
    return s(last["handle"])
p.stdin.write(s(b"\x01" + u32(3)))
p.stdin.flush()
version = reply()
OPEN, CLOSE, READ, WRITE, LSTAT, FSTAT, SETSTAT, FSETSTAT, OPENDIR, READDIR = range(3, 13)
REMOVE, MKDIR, RMDIR, REALPATH, STAT, RENAME, READLINK, SYMLINK = range(13, 21)
def ext(name, body=b""):
    req(200, s(name) + body)
exec(open(os.environ["SC_DIR"] + "/" + sys.argv[1]).read())
p.stdin.close()
p.wait()
EOF
}

# run_sftp_client SCENARIO: its lines from our server (in $output) and,
# where there is one, the same from OpenSSH's, which must be equal.
# Each runs on a fresh copy of $MG_TMP/fixture, at the same path.
function run_sftp_client() {
    local scenario=$1 want='' ossh
    ossh=$(openssh_server)
    if [[ -n $ossh ]]; then
        rm -rf "$MG_TMP/w" && cp -a "$MG_TMP/fixture" "$MG_TMP/w"
        (cd "$MG_TMP/w" && SC_DIR=$MG_TMP python3 "$MG_TMP/sc.py" "$scenario" "$ossh") >"$MG_TMP/ossh.out"
        want=$(cat "$MG_TMP/ossh.out")
    fi
    rm -rf "$MG_TMP/w" && cp -a "$MG_TMP/fixture" "$MG_TMP/w"
    run_mg_sep env -C "$MG_TMP/w" SC_DIR="$MG_TMP" HOME="$MG_TMP/w" python3 "$MG_TMP/sc.py" "$scenario" "$SERVER" -b
    if [[ -n $ossh ]]; then
        diff -u "$MG_TMP/ossh.out" "$MG_STDOUT_FILE" || die "$scenario: OpenSSH's server (-) and ours (+) differ"
    fi
}

@test "mitogen-sftp-server alone: READDIR's longname is OpenSSH's (ls -l's columns, the year for old files)" {
    [[ -x $SERVER ]] || skip "no $SERVER"
    skip_if_no_program python3
    write_sftp_client
    mkdir -p "$MG_TMP/fixture/d"
    printf 'x\n' >"$MG_TMP/fixture/d/old"
    touch -d '2001-09-09 01:46:40' "$MG_TMP/fixture/d/old"
    chown 12345:54321 "$MG_TMP/fixture/d/old"
    chmod 4750 "$MG_TMP/fixture/d/old"
    printf 'y\n' >"$MG_TMP/fixture/d/new"
    chown 0:0 "$MG_TMP/fixture/d/new"
    chmod 644 "$MG_TMP/fixture/d/new"
    printf 'req(OPENDIR, s("d"))\nreq(READDIR, h())\n' >"$MG_TMP/longname"
    run_sftp_client longname
    local old new root
    root=$(id -un 0)
    old=$(grep '^NAME old |' <<<"$output") || die "no entry for old"
    new=$(grep '^NAME new |' <<<"$output") || die "no entry for new"
    # OpenSSH's strmode leaves a blank after the mode: two before the
    # link count's column.
    assert "$old" == "NAME old | -rwsr-x---    1 12345    54321           2 $(date -d @1000000000 '+%b %e  %Y') old" \
        "an old file: its year, numeric owners"
    assert "$new" == "NAME new | -rw-r--r--    1 $(printf '%-8s %-8s' "$root" "$(id -gn 0)")        2 $(date -r "$MG_TMP/w/d/new" '+%b %e %H:%M') new" \
        "a new file: the time of day, names"
}

@test "mitogen-sftp-server alone: statuses as OpenSSH's (READ of 0 bytes, a closed handle, SETSTAT tries every attribute, RENAME of a missing name)" {
    [[ -x $SERVER ]] || skip "no $SERVER"
    skip_if_no_program python3
    write_sftp_client
    mkdir -p "$MG_TMP/fixture/d"
    chmod 755 "$MG_TMP/fixture/d"
    printf 'hello\n' >"$MG_TMP/fixture/f"
    printf 'g\n' >"$MG_TMP/fixture/g"
    cat >"$MG_TMP/statuses" <<'EOF'
req(OPEN, s("f") + u32(1) + NOATTRS)
H = h()
req(READ, H + u64(0) + u32(0))
req(READ, H + u64(100) + u32(0))
req(READ, H + u64(100) + u32(10))
req(CLOSE, H)
req(CLOSE, H)
ext("fsync@openssh.com", H)
req(SETSTAT, s("d") + u32(5) + u64(0) + u32(0o700))
req(STAT, s("d"))
req(RENAME, s("missing") + s("g"))
req(RENAME, s("f") + s("g"))
EOF
    run_sftp_client statuses
    local want
    # EOF is 1, NO_SUCH_FILE 2, FAILURE 4; the SETSTAT's size fails on
    # a directory (EISDIR), its mode is set all the same.
    want=$(printf '%s\n' HANDLE "DATA 0" "DATA 0" "STATUS 1" "STATUS 0" "STATUS 2" "STATUS 2" \
        "STATUS 4" "ATTRS 40700 $(stat -c '%s %Y' "$MG_TMP/w/d")" "STATUS 2" "STATUS 4")
    assert "$output" == "$want" "our server's answers"
}

@test "mitogen-sftp-server alone: OpenSSH's extensions, announced in its order and answered as its server answers them" {
    [[ -x $SERVER ]] || skip "no $SERVER"
    skip_if_no_program python3
    write_sftp_client
    mkdir -p "$MG_TMP/fixture/d"
    printf 'hello\n' >"$MG_TMP/fixture/f"
    touch -d '2001-09-09 01:46:40' "$MG_TMP/fixture/f"
    ln -s f "$MG_TMP/fixture/link"
    local rootdir
    rootdir=$(getent passwd 0 | cut -d: -f6)
    cat >"$MG_TMP/extensions" <<EOF
i = 5
while i < len(version):
    name, i = strs(version, i)
    v, i = strs(version, i)
    print("EXT %s %s" % (name.decode(), v.decode()))
# lsetstat: the link's own times, never f's; no size; a link's mode
# cannot change (FAILURE).
ext("lsetstat@openssh.com", s("link") + u32(8) + u32(5) + u32(7))
req(LSTAT, s("link"))
req(STAT, s("link"))
ext("lsetstat@openssh.com", s("link") + u32(1) + u64(0))
ext("lsetstat@openssh.com", s("link") + perm(0o600))
ext("expand-path@openssh.com", s("~/d/../f"))
ext("expand-path@openssh.com", s("~"))
ext("expand-path@openssh.com", s("~$(id -un 0)/x"))
ext("expand-path@openssh.com", s("~mg-no-such-user"))
ext("expand-path@openssh.com", s(""))
ext("users-groups-by-id@openssh.com", s(u32(0) + u32(4000000000)) + s(u32(0)))
req(OPEN, s("f") + u32(1) + NOATTRS)
F = h()
req(OPEN, s("copy") + u32(0x1b) + NOATTRS)
C = h()
ext("copy-data", F + u64(1) + u64(0) + C + u64(0))
ext("copy-data", F + u64(0) + u64(2) + C + u64(5))
req(READ, C + u64(0) + u32(100))
ext("copy-data", F + u64(0) + u64(0) + F + u64(0))
ext("copy-data", F + u64(0) + u64(0) + s("nope") + u64(0))
EOF
    run_sftp_client extensions
    local w=$MG_TMP/w want root rootgrp
    root=$(id -un 0)
    rootgrp=$(id -gn 0)
    want=$(printf '%s\n' "EXT posix-rename@openssh.com 1" "EXT statvfs@openssh.com 2" "EXT fstatvfs@openssh.com 2" \
        "EXT hardlink@openssh.com 1" "EXT fsync@openssh.com 1" "EXT lsetstat@openssh.com 1" \
        "EXT limits@openssh.com 1" "EXT expand-path@openssh.com 1" "EXT copy-data 1" \
        "EXT home-directory 1" "EXT users-groups-by-id@openssh.com 1" \
        "STATUS 0" "ATTRS 120777 1 7" "ATTRS 100644 6 1000000000" "STATUS 5" "STATUS 4" \
        "NAME $w/f | $w/f" "NAME $w | $w" "NAME $rootdir/x | $rootdir/x" "STATUS 2" "NAME $w | $w" \
        "201 $(printf '%08x' $((8 + ${#root})))$(printf '%08x' ${#root})$(printf '%s' "$root" | od -An -tx1 | tr -d ' \n')00000000$(printf '%08x' $((4 + ${#rootgrp})))$(printf '%08x' ${#rootgrp})$(printf '%s' "$rootgrp" | od -An -tx1 | tr -d ' \n')" \
        HANDLE HANDLE "STATUS 0" "STATUS 0" "DATA 7" "STATUS 4" "STATUS 4")
    assert "$output" == "$want" "our server's answers"
    assert "$(od -An -c "$w/copy" | tr -s ' ')" == " e l l o \n h e" "copy-data: to the end, then two bytes at offset 5"

    # home-directory: OpenSSH 9.2's answers the wrong user's home, so
    # ours alone: a user's home, ours for "", FAILURE for no such user.
    printf '%s\n' 'ext("home-directory", s("'"$root"'"))' 'ext("home-directory", s(""))' \
        'ext("home-directory", s("mg-no-such-user"))' >"$MG_TMP/home"
    cd "$w"
    run_mg_sep env SC_DIR="$MG_TMP" python3 "$MG_TMP/sc.py" home "$SERVER" -b
    want=$(printf '%s\n' "NAME $rootdir | $rootdir" "NAME $(getent passwd "$(id -u)" | cut -d: -f6) | $(getent passwd "$(id -u)" | cut -d: -f6)" "STATUS 4")
    assert "$output" == "$want" "home-directory"
}

@test "mitogen-sftp-server alone: statvfs and fstatvfs carry OpenSSH's file system id, flags and name length" {
    [[ -x $SERVER ]] || skip "no $SERVER"
    skip_if_no_program python3
    write_sftp_client
    mkdir -p "$MG_TMP/fixture"
    printf 'x\n' >"$MG_TMP/fixture/f"
    # The counts move between the runs: the id, the flags and the
    # longest name (the last three fields), the first two sizes.
    cat >"$MG_TMP/statvfs" <<'EOF'
def vfs(body):
    last["id"] += 1
    p.stdin.write(s(bytes([200]) + u32(last["id"]) + body))
    p.stdin.flush()
    r = reply()
    print("sizes %s tail %s" % (r[5:21].hex(), r[69:93].hex()) if r[0] == 201 else "type %d" % r[0])
vfs(s("statvfs@openssh.com") + s("."))
req(OPEN, s("f") + u32(1) + NOATTRS)
vfs(s("fstatvfs@openssh.com") + h())
EOF
    run_sftp_client statvfs
    assert "${#lines[@]}" == 3 "two replies and a HANDLE"
    assert "${lines[0]}" =~ "^sizes [0-9a-f]{32} tail [0-9a-f]{48}$" "statvfs: EXTENDED_REPLY"
    assert "${lines[2]}" == "${lines[0]}" "fstatvfs: the same file system"
}
