#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# setns, for real: a "container" made with unshare(1) (its own pid, mount,
# uts, ipc and net namespaces, chrooted into a root filesystem that holds
# nothing but a static busybox), found through the fake docker, lxc-info,
# lxc and machinectl of tests/stubs. The agent boots inside through the
# busybox first stage and runs the command there as root or as a user of
# the container's own /etc/passwd. Needs root (setns and unshare).

load helpers

# The busybox applets the rootfs offers (the first stage needs sh, head,
# wc, chmod, sleep and rm; the tests the rest).
APPLETS='sh head wc chmod sleep rm cat id printf echo hostname ls readlink test [ env pwd'

# children_of PID: the pids of the processes whose parent is PID.
function children_of() {
    local parent=$1 d stat
    local -a f
    for d in /proc/[0-9]*; do
        stat=$(cat "$d/stat" 2>/dev/null) || continue
        # The command name may hold blanks: split the fields after ')'
        # (state, ppid, ...).
        read -r -a f <<<"${stat##*) }"
        if [[ ${f[1]:-} == "$parent" ]]; then
            printf '%s\n' "${d#/proc/}"
        fi
    done
}

# start_container HOSTNAME [UNSHARE_OPTION...]: run a container in the
# background; sets LEADER (its pid 1, seen from here) and records both
# pids for teardown_file.
function start_container() {
    local host=$1
    shift
    local upid i
    # fd 3 is bats' own: the container must not hold it.
    # MG_BOX_ENV: a variable of the container's own environment.
    MG_BOX_ENV=from-the-leader unshare --fork --pid --mount --uts --ipc --net "$@" --mount-proc="$ROOTFS/proc" \
        chroot "$ROOTFS" /bin/sh -c "hostname $host && exec sleep 600" \
        </dev/null >/dev/null 2>&1 3>&- &
    upid=$!
    echo "$upid" >>"$BATS_FILE_TMPDIR/pids"
    LEADER=
    for ((i = 0; i < 100; i++)); do
        LEADER=$(children_of "$upid" | head -n 1)
        # Up once the leader has set the hostname and become sleep.
        if [[ -n $LEADER && $(cat "/proc/$LEADER/comm" 2>/dev/null) == sleep ]]; then
            break
        fi
        if ! kill -0 "$upid" 2>/dev/null; then
            LEADER=
            break
        fi
        sleep 0.05
    done
    if [[ -z $LEADER || $(cat "/proc/$LEADER/comm" 2>/dev/null) != sleep ]]; then
        LEADER=
        return 1
    fi
    echo "$LEADER" >>"$BATS_FILE_TMPDIR/pids"
}

function setup_file() {
    export MG_SETNS_SKIP=
    if [[ $(id -u) -ne 0 ]]; then
        MG_SETNS_SKIP='setns and unshare need root'
        return
    fi
    if ! command -v unshare >/dev/null 2>&1 || ! command -v chroot >/dev/null 2>&1; then
        MG_SETNS_SKIP='unshare or chroot is not installed (util-linux, coreutils)'
        return
    fi
    export ROOTFS=$BATS_FILE_TMPDIR/rootfs
    mkdir -p "$ROOTFS"/{bin,etc,tmp,dev,proc,root,home/mguser}
    chmod 1777 "$ROOTFS/tmp"
    chmod 700 "$ROOTFS/root"
    chown 1234:1234 "$ROOTFS/home/mguser"
    # A static busybox: the rootfs has no libc.
    local bb
    bb=$(command -v busybox || true)
    if [[ -n $bb ]]; then
        cp "$bb" "$ROOTFS/bin/busybox"
    fi
    # Tests install nothing: .ci/run and README's set-up command do.
    if [[ -z $bb ]] || ! chroot "$ROOTFS" /bin/busybox true 2>/dev/null; then
        MG_SETNS_SKIP='needs a static busybox (apt-get install busybox-static)'
        return
    fi
    local a
    for a in $APPLETS; do
        ln -s busybox "$ROOTFS/bin/$a"
    done
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
        'mguser:x:1234:1234:MG User,,,:/home/mguser:/bin/sh' >"$ROOTFS/etc/passwd"
    printf '%s\n' 'root:x:0:' 'mguser:x:1234:' 'mgextra:x:2345:root,mguser' \
        'other:x:3456:root' >"$ROOTFS/etc/group"
    mknod -m 666 "$ROOTFS/dev/null" c 1 3

    : >"$BATS_FILE_TMPDIR/pids"
    if ! start_container mgbox; then
        MG_SETNS_SKIP='cannot start a container with unshare --pid --mount --uts --ipc --net'
        return
    fi
    export MG_LEADER=$LEADER
    # The same rootfs in a user namespace of its own (rootless style:
    # only root mapped, setgroups denied), when the kernel allows it.
    export MG_USERNS_LEADER=
    if start_container ubox --user --map-root-user; then
        MG_USERNS_LEADER=$LEADER
    fi
}

function teardown_file() {
    local pid
    if [[ -f $BATS_FILE_TMPDIR/pids ]]; then
        # Killing a pid namespace's init ends everything in it.
        while read -r pid; do
            kill -KILL "$pid" 2>/dev/null || true
        done <"$BATS_FILE_TMPDIR/pids"
        while read -r pid; do
            wait "$pid" 2>/dev/null || true
        done <"$BATS_FILE_TMPDIR/pids"
    fi
}

# The container holds only busybox: a dynamic agent cannot run there.
function need_static_agent() {
    if [[ $(file -L "$MITOGEN_AGENT") == *"dynamically linked"* ]]; then
        skip "needs the static agent; this build's agent is dynamic (-Dstatic_agent=disabled, the sanitizer build)"
    fi
}

function setup() {
    if [[ -n ${MG_SETNS_SKIP:-} ]]; then
        skip "$MG_SETNS_SKIP"
    fi
    basic_setup
    STUBS=$MG_SRC_DIR/tests/stubs
    PATH=$STUBS:$PATH
    export PATH
    export MG_STUB_LOG=$MG_TMP/stub.log
    unset MG_STUB_FAIL MG_STUB_FAIL_STUB
    export MG_STUB_DOCKER_PID=$MG_LEADER
}

# A word quoted as the stubs quote it: bare when plain, else in '...'.
function shq() {
    local s=$1
    if [[ -n $s && $s =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
        printf '%s' "$s"
    else
        printf "'%s'" "${s//\'/\'\\\'\'}"
    fi
}

# The words quoted and joined by spaces: how a stub logs its argv.
function qjoin() {
    local out='' w
    for w; do
        out+=${out:+ }$(shq "$w")
    done
    printf '%s\n' "$out"
}

@test "setns: the command gets the container's environment, never the caller's" {
    need_static_agent
    # A token in the caller's environment went into the container with
    # the first stage; docker exec starts from the container's own.
    MG_CALLER_SECRET=s3cret TMPDIR=/nonexistent-host-dir run_mg_sep mitogen-run setns:docker:mgbox -- \
        sh -c 'echo "${MG_CALLER_SECRET:-unset} ${MG_BOX_ENV:-unset} ${TMPDIR:-unset} $HOME"'
    assert "$output" == "unset from-the-leader unset /root" "the leader's variables, HOME for the user"
}

@test "setns:docker: the agent boots inside the container, as root" {
    need_static_agent
    run_mg_sep mitogen-run setns:docker:mgbox -- \
        sh -c 'hostname; id -u; id -G; ls /; echo "$HOME $USER $LOGNAME $SHELL"; pwd; readlink /proc/self; cat /proc/1/comm'
    assert "$stderr" == "" "nothing on stderr"
    assert "${lines[0]}" == "mgbox" "the container's hostname (uts namespace)"
    assert "${lines[1]}" == "0" "uid 0"
    assert "${lines[2]}" == "0 2345 3456" "root's groups from the container's /etc/group"
    # Only busybox is there: the agent is static, the first stage ran on
    # busybox sh, head and wc.
    assert "${lines[*]:3:7}" == "bin dev etc home proc root tmp" "the container's root directory"
    assert "${lines[10]}" == "/root root root /bin/sh" "HOME, USER, LOGNAME and SHELL from the container's passwd"
    assert "${lines[11]}" == "/root" "the command starts in HOME"
    # /proc/self resolves only for a process of the container's pid
    # namespace; pid 1 there is the container's sleep.
    assert "${lines[12]}" =~ "^[0-9]+$" "a pid in the container's pid namespace"
    assert "${lines[12]}" -lt 100 "a small pid: the container's pid namespace"
    assert "${lines[13]}" == "sleep" "pid 1 is the container's leader"

    # The stub was asked for the pid, exactly as docker would be.
    assert "$(cat "$MG_STUB_LOG")" == "$(qjoin "$STUBS/docker" inspect '--format={{.State.Pid}}' mgbox)" \
        "docker inspect --format={{.State.Pid}} mgbox"

    # The agent's image was pushed into the container's /tmp and is gone.
    assert "$(ls -A "$ROOTFS/tmp")" == "" "nothing left in the container's /tmp"
}

@test "setns:docker: stdin, stdout and the exit status travel as usual" {
    need_static_agent
    run_mg 7 mitogen-run setns:docker:mgbox -- sh -c 'exit 7'
    head -c 300000 /dev/urandom >"$MG_TMP/in"
    run_mg_sep mitogen-run setns:docker:mgbox -- cat <"$MG_TMP/in"
    cmp "$MG_TMP/in" "$MG_STDOUT_FILE" || die "cat through setns changed the data"
}

@test "setns:docker: a user of the container's /etc/passwd" {
    need_static_agent
    local chain
    for chain in setns:docker:mguser@mgbox 'setns:docker:mgbox?username=mguser' setns:docker:1234@mgbox; do
        run_mg_sep mitogen-run "$chain" -- \
            sh -c 'id -u; id -g; id -G; echo "$HOME $USER $LOGNAME $SHELL"; pwd; hostname'
        assert "$stderr" == "" "$chain: nothing on stderr"
        assert "${lines[0]}" == "1234" "$chain: uid"
        assert "${lines[1]}" == "1234" "$chain: primary gid"
        assert "${lines[2]}" == "1234 2345" "$chain: groups from the container's /etc/group"
        assert "${lines[3]}" == "/home/mguser mguser mguser /bin/sh" "$chain: HOME USER LOGNAME SHELL"
        assert "${lines[4]}" == "/home/mguser" "$chain: started in HOME"
        assert "${lines[5]}" == "mgbox" "$chain: in the container"
    done
}

@test "setns: no descriptor the command inherited reaches the container" {
    need_static_agent
    # A directory of this host, open without close-on-exec where
    # mitogen-run starts (as a caller's shell may leave one): were it to
    # reach any process in the container (the first stage stays there as
    # the agent's parent), root there could read the host through
    # /proc/PID/fd/N, outside the container's root.
    mkdir -p "$MG_TMP/host-dir"
    echo host-only >"$MG_TMP/host-dir/mg-host-marker"
    local leak='for f in /proc/[0-9]*/fd/*; do [ -e "$f/mg-host-marker" ] && echo "$f"; done; echo done'
    exec 7<"$MG_TMP/host-dir"
    run_mg_sep mitogen-run setns:docker:mgbox -- sh -c "$leak"
    exec 7<&-
    assert "$stderr" == "" "nothing on stderr"
    assert "$output" == "done" "no process in the container holds the host's directory"
}

@test "setns:lxc, setns:lxd, setns:machinectl: the leader from each tool's output" {
    need_static_agent
    export MG_STUB_LXC_INFO_PID=$MG_LEADER MG_STUB_LXC_PID=$MG_LEADER MG_STUB_MACHINECTL_PID=$MG_LEADER
    unset MG_STUB_DOCKER_PID
    local kind
    local -A asked=(
        [lxc]=$(qjoin "$STUBS/lxc-info" -n mgbox)
        [lxd]=$(qjoin "$STUBS/lxc" info mgbox)
        [machinectl]=$(qjoin "$STUBS/machinectl" status mgbox)
    )
    for kind in lxc lxd machinectl; do
        : >"$MG_STUB_LOG"
        run_mg_sep mitogen-run "setns:$kind:mguser@mgbox" -- sh -c 'hostname; id -u'
        assert "$stderr" == "" "setns:$kind: nothing on stderr"
        assert "${lines[*]}" == "mgbox 1234" "setns:$kind: in the container as mguser"
        assert "$(cat "$MG_STUB_LOG")" == "${asked[$kind]}" "setns:$kind: the tool's command line"
    done

    # The tool paths are options.
    mkdir -p "$MG_TMP/bin"
    cp "$STUBS/machinectl" "$MG_TMP/bin/my-machinectl"
    : >"$MG_STUB_LOG"
    run_mg mitogen-run "setns:machinectl:mgbox?machinectl_path=${MG_TMP//\//%2F}%2Fbin%2Fmy-machinectl" -- hostname
    assert "$output" == "mgbox" "machinectl_path="
    assert "$(cat "$MG_STUB_LOG")" == "$(qjoin "$MG_TMP/bin/my-machinectl" status mgbox)" \
        "machinectl_path=: that tool ran"
}

@test "setns after another hop: the agent there enters the container" {
    need_static_agent
    run_mg_sep mitogen-run local/setns:docker:mguser@mgbox -- sh -c 'hostname; id -u'
    assert "$stderr" == "" "nothing on stderr"
    assert "${lines[*]}" == "mgbox 1234" "local/setns:docker:mguser@mgbox"
}

@test "setns: --dry-run shows the sh -c 'trap : TERM HUP INT;BOOT; exit \$?' wrapper and asks no tool" {
    run_mg_sep mitogen-run --dry-run setns:docker:mgbox -- true
    assert "$output" =~ "^setns:docker:mgbox: /bin/sh -c 'trap : TERM HUP INT;/bin/sh -c '.*umask 077;.* mitogen-boot [0-9]+ [0-9a-f]+; exit \\\$\?'\$" \
        "the boot command runs as a child of an outer sh, which waits for it on SIGTERM"
    assert "$(cat "$MG_STUB_LOG" 2>/dev/null)" == "" "docker was not asked"
}

@test "setns: the tool fails or finds no running leader" {
    # docker's own error for an unknown container, on stderr, exit 1.
    export MG_STUB_FAIL='Error: No such object: nope'
    run_mg_sep 255 mitogen-run setns:docker:nope -- true
    assert "$stderr" == "mitogen-run: setns:docker:nope: docker exited with status 1: Error: No such object: nope" \
        "docker inspect failed"
    unset MG_STUB_FAIL

    # A stopped container: docker says 0.
    MG_STUB_DOCKER_PID=0 run_mg_sep 255 mitogen-run setns:docker:mgbox -- true
    assert "$stderr" == "mitogen-run: setns:docker:mgbox: container 'mgbox' is not running (docker reports PID 0)" \
        "PID 0"

    MG_STUB_DOCKER_PID=junk run_mg_sep 255 mitogen-run setns:docker:mgbox -- true
    assert "$stderr" == "mitogen-run: setns:docker:mgbox: could not find PID from docker output: junk" \
        "not a number"

    run_mg_sep 255 mitogen-run 'setns:docker:mgbox?docker_path=mg-no-such-docker' -- true
    assert "$stderr" == "mitogen-run: setns:docker:mgbox?docker_path=mg-no-such-docker: could not execute mg-no-such-docker: No such file or directory" \
        "no such tool"

    # A pid that has just exited.
    local dead
    sleep 0 &
    dead=$!
    wait "$dead"
    MG_STUB_DOCKER_PID=$dead run_mg_sep 255 mitogen-run setns:docker:mgbox -- true
    assert "$stderr" == "mitogen-run: setns:docker:mgbox: the leader of container 'mgbox' (PID $dead) is not running" \
        "a dead leader"
}

@test "setns: a user the container does not have" {
    run_mg_sep 255 mitogen-run setns:docker:nosuch@mgbox -- true
    assert "$stderr" == "mitogen-run: setns:docker:nosuch@mgbox: no user 'nosuch' in /etc/passwd of container 'mgbox'" \
        "unknown user"
    run_mg_sep 255 mitogen-run setns:docker:4321@mgbox -- true
    assert "$stderr" == "mitogen-run: setns:docker:4321@mgbox: no user '4321' in /etc/passwd of container 'mgbox'" \
        "unknown uid"
}

@test "setns: a container with its own user namespace" {
    need_static_agent
    if [[ -z ${MG_USERNS_LEADER:-} ]]; then
        skip 'unshare --user --map-root-user failed here'
    fi
    export MG_STUB_DOCKER_PID=$MG_USERNS_LEADER
    run_mg_sep mitogen-run setns:docker:ubox -- sh -c 'hostname; id -u; cat /proc/self/uid_map; ls /'
    assert "$stderr" == "" "nothing on stderr"
    assert "${lines[0]}" == "ubox" "in the container"
    assert "${lines[1]}" == "0" "root there"
    local -a map
    read -r -a map <<<"${lines[2]}"
    assert "${map[*]}" == "0 0 1" "in its user namespace: only root is mapped"
    assert "${lines[*]:3}" == "bin dev etc home proc root tmp" "its root directory"

    # mguser has no uid there: said before anything runs.
    run_mg_sep 255 mitogen-run setns:docker:mguser@ubox -- true
    assert "$stderr" == "mitogen-run: setns:docker:mguser@ubox: user 'mguser' (uid 1234) is not mapped in the user namespace of container 'ubox'" \
        "an unmapped user"
}

@test "setns: the tool is asked without holding up the other targets" {
    # The tool answers only once the local target's command has run (or
    # after 20 s): were the loop waiting for the tool, local would not
    # even be connected yet.
    mkdir -p "$MG_TMP/bin"
    cat >"$MG_TMP/bin/mg-slow-docker" <<EOF
#!/bin/sh
i=0
while [ ! -e "$MG_TMP/local-ran" ] && [ \$i -lt 200 ]; do sleep 0.1; i=\$((i + 1)); done
[ -e "$MG_TMP/local-ran" ] && echo answered-after-local || echo answered-alone
EOF
    chmod +x "$MG_TMP/bin/mg-slow-docker"
    PATH=$MG_TMP/bin:$PATH run_mg_sep 255 mitogen-run -w 'setns:docker:slow?docker_path=mg-slow-docker,local' \
        -- "touch '$MG_TMP/local-ran'; echo ran"
    assert "$output" == "local: ran" "the local target ran"
    assert "$stderr" =~ "slow: could not find PID from mg-slow-docker output: answered-after-local" \
        "the tool answered after the local command had run"
}

@test "setns: -t covers the tool too; a tool still running then is killed" {
    local secs=$((5000 + RANDOM))
    mkdir -p "$MG_TMP/bin"
    printf '#!/bin/sh\nexec sleep %s\n' "$secs" >"$MG_TMP/bin/mg-sleepy-docker"
    chmod +x "$MG_TMP/bin/mg-sleepy-docker"
    SECONDS=0
    PATH=$MG_TMP/bin:$PATH run_mg_sep 255 mitogen-run -t 1 'setns:docker:x?docker_path=mg-sleepy-docker' -- true
    assert "$stderr" == "mitogen-run: setns:docker:x?docker_path=mg-sleepy-docker: connect timed out" \
        "the connect timeout, not the tool's own 30 s"
    assert "$SECONDS" -lt 10 "within the connect timeout"
    run pgrep -fx "sleep $secs"
    assert "$output" == "" "the tool is gone"
}

# vim: filetype=sh
