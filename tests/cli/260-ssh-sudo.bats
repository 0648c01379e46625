#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# "ssh:HOST/sudo" given to run a command: sudo -n runs in the ssh hop's
# own command with the exec-only agent, one agent on the host instead of
# two (docs/PROTOCOL.md 2.3.3). Where sudo will not run it (it wants a
# terminal, a password, or forbids it), the first stage asks for the
# whole agent and the hop connects as it always did. Either way the
# command sees the same user, umask, directory and environment.

load helpers
load sshd

function setup_file() {
    export BATS_NO_PARALLELIZE_WITHIN_FILE=true
    start_sshd
    # Users of their own, unique per run: tty wants a terminal for sudo
    # (requiretty) and needs no password; pw needs its password; np needs
    # neither, and its login shell sets umask 027.
    MG_FUSE_SKIP=
    MG_FUSE_TTY=mgft$$
    MG_FUSE_PW=mgfp$$
    MG_FUSE_NP=mgfn$$
    MG_FUSE_PASS="f p'\"\$x-$RANDOM"
    MG_FUSE_SUDOERS=/etc/sudoers.d/mitogen-test-fuse$$
    if [[ -n $MG_SSHD_SKIP ]]; then
        MG_FUSE_SKIP=$MG_SSHD_SKIP
    elif ! command -v useradd >/dev/null || ! command -v sudo >/dev/null ||
        ! command -v visudo >/dev/null || [[ ! -d /etc/sudoers.d ]]; then
        MG_FUSE_SKIP="needs useradd, sudo, visudo and /etc/sudoers.d"
    else
        local u home tmp
        for u in "$MG_FUSE_TTY" "$MG_FUSE_PW" "$MG_FUSE_NP"; do
            useradd -m -s /bin/sh "$u"
            printf '%s:%s\n' "$u" "$MG_FUSE_PASS" | chpasswd
            home=$(getent passwd "$u" | cut -d: -f6)
            install -d -m 700 -o "$u" "$home/.ssh"
            install -m 600 -o "$u" "$MG_SSHD_DIR/client_key.pub" "$home/.ssh/authorized_keys"
        done
        # A login shell that sets the umask, as pam_umask or a site's
        # shell wrapper would (sshd reads no profile for a command).
        home=$(getent passwd "$MG_FUSE_NP" | cut -d: -f6)
        printf '#!/bin/sh\numask 027\nexec /bin/sh "$@"\n' >"$home/sh027"
        chmod 755 "$home/sh027"
        usermod -s "$home/sh027" "$MG_FUSE_NP"
        tmp=$(mktemp)
        printf 'Defaults:%s !lecture\n%s ALL=(root) NOPASSWD: ALL\n' \
            "$MG_FUSE_NP" "$MG_FUSE_NP" >"$tmp"
        printf 'Defaults:%s requiretty, !lecture\n%s ALL=(root) NOPASSWD: ALL\n' \
            "$MG_FUSE_TTY" "$MG_FUSE_TTY" >>"$tmp"
        printf 'Defaults:%s !lecture, passwd_tries=1\n%s ALL=(root) ALL\n' \
            "$MG_FUSE_PW" "$MG_FUSE_PW" >>"$tmp"
        if visudo -c -q -f "$tmp"; then
            install -m 0440 -o root -g root "$tmp" "$MG_FUSE_SUDOERS"
        else
            MG_FUSE_SKIP="the test sudoers file does not pass visudo -c"
        fi
        rm -f -- "$tmp"
    fi
    # shellcheck disable=SC2090 # the quotes are the password's own
    export MG_FUSE_SKIP MG_FUSE_TTY MG_FUSE_PW MG_FUSE_NP MG_FUSE_PASS MG_FUSE_SUDOERS
}

function teardown_file() {
    stop_sshd
    rm -f -- "${MG_FUSE_SUDOERS:-/nonexistent}"
    local u
    for u in ${MG_FUSE_TTY:-} ${MG_FUSE_PW:-} ${MG_FUSE_NP:-}; do
        userdel -r "$u" 2>/dev/null || true
    done
}

function setup() {
    basic_setup
    need_sshd
    [[ -z $MG_FUSE_SKIP ]] || skip "$MG_FUSE_SKIP"
}

function teardown() {
    basic_teardown
}

# Fusing needs the exec-only agent small enough to ride in the ssh
# command (PROTOCOL 2.1): a sanitizer build's dynamic agent is not, so
# tests/run-all.sh hands that build the static one of the plain build as
# MG_FUSE_LITE (the master under test is still the sanitizer build's).
function need_fusing() {
    local lite=${MITOGEN_AGENT:-$MG_BUILD_DIR/cmd/mitogen-agent}-lite size
    [[ -f $lite ]] || skip "no exec-only agent at $lite"
    size=$(stat -L -c %s "$(pushed_agent)")
    if ((size > 100000)) && [[ -n ${MG_FUSE_LITE:-} && -f $MG_FUSE_LITE ]]; then
        # The leaf agent beside it too (2.3.4), which sudo then runs.
        export MITOGEN_AGENT_LITE=$MG_FUSE_LITE
        [[ ! -f ${MG_FUSE_LITE%-lite}-leaf ]] || export MITOGEN_AGENT_LEAF=${MG_FUSE_LITE%-lite}-leaf
        size=$(stat -L -c %s "$(pushed_agent)")
    fi
    if ((size > 100000)); then
        skip "the exec-only agent ($size bytes) cannot ride in a command (a dynamic or sanitizer build)"
    fi
}

# What a command sees of where it runs, in one line each (SUDO_COMMAND
# names the first stage, which differs).
WHERE='id; umask; pwd; echo "HOME=$HOME"; env | LC_ALL=C sort | grep -v "^_=\|^SHLVL=\|^OLDPWD=\|^SUDO_COMMAND="'

# Agent files of the login user left in /tmp.
function leftovers() {
    find /tmp /var/tmp /dev/shm -maxdepth 1 -name '.mitogen-agent.*' -user "$1" 2>/dev/null | wc -l
}

@test "ssh then sudo: sudo runs in the ssh command, one agent, as root" {
    need_fusing
    run_mg_sep mitogen-run -vv "$(ssh_hop)/sudo" -- \
        'id -un; for p in $PPID $(ps -o ppid= -p $PPID); do cat /proc/$p/comm; done'
    assert "${lines[0]}" == "root"
    assert "${lines[1]}" == "mitogen:2" "the command's parent is the sudo hop's agent"
    assert "$stderr" =~ "sudo runs in the command" "the debug log says so"
    assert "$stderr" !~ "sudo -n did not start the agent" "no fallback"
    assert "$stderr" !~ "agent up \\(context 1," "no agent of the login user"
    assert "$stderr" =~ "agent up \\(context 2," "the sudo hop's agent, straight away"
}

@test "--dry-run shows sudo in the ssh command as a run starts it: one line, sudo -n" {
    need_fusing
    local rec=$MG_TMP/ssh-rec hop rest lite whole n
    local -a words inner real
    # An ssh that keeps the remote command; the image on stdin, which is
    # the form --dry-run shows.
    printf '%s\n' '#!/bin/sh' 'for last; do :; done' 'printf "%s" "$last" >"$0.cmd"' \
        'exec ssh "$@"' >"$rec"
    chmod +x "$rec"
    hop=$(ssh_hop "" "ssh_path=$(mg_pct "$rec")" image_in_command=no)
    whole=$(stat -L -c %s "${MITOGEN_AGENT:-$MG_BUILD_DIR/cmd/mitogen-agent}")
    lite=$(stat -L -c %s "$(pushed_agent)")

    run_mg_sep mitogen-run --dry-run "$hop/sudo" -- id -un
    assert "$stderr" == "" "--dry-run: nothing on stderr"
    assert "${#lines[@]}" -eq 1 "one line for the two hops: one process starts them"
    assert "${lines[0]:0:$((${#hop} + 7))}" == "$hop/sudo: " "named by the two hops"
    rest=${lines[0]#"$hop/sudo: "}
    eval "words=($rest)"
    assert "${words[0]}" == "$rec" "the ssh command"
    eval "inner=(${words[-1]})"
    assert "${inner[0]} ${inner[1]} ${inner[3]}" == "/bin/sh -c mitogen-boot" "the first stage"
    assert "${inner[4]}" -eq "$lite" "LEN: the leaf (or exec-only) agent"
    assert "${inner[6]}" -eq "$whole" "then the whole agent's length, for MITO003"
    assert "${inner[*]:7}" == "sudo -n -p mitogen-sudo-prompt: -u root --" "then sudo -n's words"

    run_mg_sep mitogen-run -vv "$hop/sudo" -- id -un
    assert "$output" == "root" "the command ran as root"
    assert "$stderr" =~ "sudo runs in the command" "sudo ran in the ssh command"
    eval "real=($(cat "$rec.cmd"))"
    n=${#inner[@]}
    assert "${#real[@]}" -eq "$n" "the run's command has the dry run's words"
    assert "$(printf '[%s]' "${real[@]:0:4}")" == "$(printf '[%s]' "${inner[@]:0:4}")" "the same first stage"
    assert "$(printf '[%s]' "${real[@]:7}")" == "$(printf '[%s]' "${inner[@]:7}")" "the same sudo words"
    # LEN and WHOLE add the HELLO and requests behind each image.
    assert "${real[4]}" -gt "$lite" "LEN: the exec-only agent and its tail (${real[4]})"
    assert "${real[4]}" -lt "$((lite + 4096))" "LEN: the exec-only agent and its tail (${real[4]})"
    assert "${real[6]}" -gt "$whole" "WHOLE: the whole agent and its tail (${real[6]})"
    assert "${real[6]}" -lt "$((whole + 4096))" "WHOLE: the whole agent and its tail (${real[6]})"
}

@test "sudo in the ssh command: status, stdin and output as with two agents" {
    run_mg 7 mitogen-run "$(ssh_hop)/sudo" -- 'cat; echo "out $(id -u)"; echo err >&2; exit 7' <<<"in put"
    assert "${lines[0]}" == "in put"
    assert "${lines[1]}" == "out 0"
    assert "$output" =~ "err"
}

@test "sudo in the ssh command: the same user, umask, directory and environment as two agents" {
    need_fusing
    local fused two
    fused=$(mitogen-run -vv "$(ssh_hop)/sudo" -- "$WHERE" 2>/tmp/mg-fuse-$$.log)
    assert "$(cat /tmp/mg-fuse-$$.log)" =~ "sudo runs in the command"
    two=$(MITOGEN_AGENT_LITE='' mitogen-run -vv "$(ssh_hop)/sudo" -- "$WHERE" 2>/tmp/mg-fuse-$$.log)
    assert "$(cat /tmp/mg-fuse-$$.log)" !~ "sudo runs in the command"
    rm -f /tmp/mg-fuse-$$.log
    assert "$fused" == "$two" "what the command sees"
    assert "$fused" =~ "SUDO_USER=root" "sudo's own variables are there"
}

@test "a login user other than root, umask 027: the same umask and environment as two agents" {
    need_fusing
    local fused two
    fused=$(mitogen-run -vv "$(ssh_hop "$MG_FUSE_NP")/sudo" -- "$WHERE" 2>"$MG_TMP/log")
    assert "$(cat "$MG_TMP/log")" =~ "sudo runs in the command"
    assert "$(cat "$MG_TMP/log")" !~ "did not start the agent"
    two=$(MITOGEN_AGENT_LITE='' mitogen-run -vv "$(ssh_hop "$MG_FUSE_NP")/sudo" -- "$WHERE" 2>"$MG_TMP/log")
    assert "$(cat "$MG_TMP/log")" !~ "sudo runs in the command"
    assert "$fused" == "$two" "what the command sees"
    assert "$(sed -n 2p <<<"$fused")" == "0027" "the login's umask, through sudo"
    assert "$fused" =~ "SUDO_USER=$MG_FUSE_NP"
}

@test "sudo wants a terminal (requiretty): the whole agent comes, and the run works" {
    need_fusing
    local before form
    before=$(leftovers "$MG_FUSE_TTY")
    # The image in the command, then on stdin: the whole agent follows
    # either on stdin.
    for form in "" image_in_command=no; do
        run_mg_sep mitogen-run -vv "$(ssh_hop "$MG_FUSE_TTY" $form)/sudo" -- 'id -un; umask'
        assert "${lines[0]}" == "root" "${form:-in the command}"
        assert "${lines[1]}" == "0022" "${form:-in the command}"
        assert "$stderr" =~ "sorry, you must have a tty" "${form:-in the command}: sudo -n said why"
        assert "$stderr" =~ "sudo -n did not start the agent: sending the whole agent"
        assert "$stderr" =~ "agent up \\(context 1," "${form:-in the command}: the login user's agent"
        if [[ -n $form ]]; then
            assert "$stderr" =~ "the image on stdin"
        fi
        assert "$(leftovers "$MG_FUSE_TTY")" == "$before" "${form:-in the command}: no agent file left behind"
    done
}

@test "sudo wants a password nobody gives: the same error as with two agents" {
    run_mg_sep 255 mitogen-run "$(ssh_hop "$MG_FUSE_PW")/sudo" -- true
    assert "$stderr" =~ "/sudo: sudo password is required" "the sudo hop, and why"
    local two=$stderr
    run_mg_sep 255 env MITOGEN_AGENT_LITE= mitogen-run "$(ssh_hop "$MG_FUSE_PW")/sudo" -- true
    assert "$stderr" == "$two"
    assert "$(leftovers "$MG_FUSE_PW")" == "0" "no agent file left behind"
}

@test "sudo with a password given: it works, and the password is not in the ssh command" {
    MG_PW=$MG_FUSE_PASS run_mg_sep mitogen-run -vv "$(ssh_hop "$MG_FUSE_PW")/sudo?password_env=MG_PW" -- id -un
    assert "$output" == "root"
    # A CONNECT holding a password never rides in an argv: no fusing.
    assert "$stderr" !~ "sudo runs in the command"
}

@test "the ssh hop named alone too, or another sudo below it: no fusing, both run" {
    local hop
    hop=$(ssh_hop)
    run_mg_sep mitogen-run -vv "$hop,$hop/sudo" -- id -un
    assert "$stderr" !~ "sudo runs in the command"
    assert "$(grep -c ': root$' <<<"$output")" == "2" "both say root"
    run_mg_sep mitogen-run -vv "$hop/sudo,$hop/sudo?set_home=1" -- id -un
    assert "$stderr" !~ "sudo runs in the command"
    assert "$(grep -c ': root$' <<<"$output")" == "2" "both say root"
}

@test "sudo to another user than root, or a login shell: the usual two agents" {
    run_mg_sep mitogen-run -vv "$(ssh_hop)/sudo:$MG_FUSE_TTY" -- id -un
    assert "$output" == "$MG_FUSE_TTY"
    assert "$stderr" !~ "sudo runs in the command"
    run_mg_sep mitogen-run -vv "$(ssh_hop)/sudo?login=1" -- id -un
    assert "$output" == "root"
    assert "$stderr" !~ "sudo runs in the command"
}

@test "many sudo hops in the ssh commands of many hosts, at once" {
    need_fusing
    local chains=() i
    # One sshd, but each chain another ssh hop (another name). Past as
    # many as there are CPUs, the image goes on stdin: no fusing there.
    for i in 1 2 3 4; do
        chains+=("$(ssh_hop "" "connect_timeout=6$i")/sudo")
    done
    run_mg_sep mitogen-run -vv "$(IFS=,; echo "${chains[*]}")" -- id -un
    assert "$(grep -c ': root$' <<<"$output")" == "4" "each says root"
    assert "$stderr" =~ "sudo runs in the command" "the first at least"
}

@test "the image on stdin (image_in_command=no): sudo still runs in the ssh command" {
    need_fusing
    run_mg_sep mitogen-run -vv "$(ssh_hop "" image_in_command=no)/sudo" -- 'id -un; umask'
    assert "${lines[0]}" == "root"
    assert "${lines[1]}" == "0022"
    assert "$stderr" =~ "sudo runs in the command: .*, the image on stdin"
    assert "$stderr" !~ "agent up \\(context 1,"
}

@test "an environment for the command (-e): sudo runs in the command, the secret on stdin only" {
    need_fusing
    # ssh as given, recording its arguments: the far host's process list
    # shows them.
    cat >"$MG_TMP/ssh-rec" <<SH
#!/bin/sh
printf '%s\n' "\$@" >>"$MG_TMP/ssh-rec.args"
exec ssh "\$@"
SH
    chmod +x "$MG_TMP/ssh-rec"
    local secret=mg-secret-$RANDOM$RANDOM
    run_mg_sep mitogen-run -vv -e "MGV=$secret" \
        "$(ssh_hop "" "ssh_path=$(mg_pct "$MG_TMP/ssh-rec")")/sudo" -- 'id -un; echo "$MGV"'
    assert "${lines[0]}" == "root"
    assert "${lines[1]}" == "$secret" "the command has its environment"
    assert "$stderr" =~ "sudo runs in the command: .*, the image on stdin" "not public: on stdin"
    assert "$(grep -c -- "$secret" "$MG_TMP/ssh-rec.args")" == "0" "the secret is in no ssh argument"
    assert "$(grep -c -- "sudo" "$MG_TMP/ssh-rec.args")" -ge 1 "the recorder saw the command"
}

@test "one CPU for many hops: the images go on stdin, and sudo runs in each ssh command" {
    need_fusing
    skip_if_no_program taskset
    local chains=() i
    for i in 1 2 3; do
        chains+=("$(ssh_hop "" "connect_timeout=7$i")/sudo")
    done
    run_mg_sep taskset -c 0 mitogen-run -vv "$(IFS=,; echo "${chains[*]}")" -- id -un
    assert "$(grep -c ': root$' <<<"$output")" == "3" "each says root"
    assert "$(grep -c 'sudo runs in the command' <<<"$stderr")" == "3" "every hop fused"
    assert "$(grep -c 'the image on stdin' <<<"$stderr")" -ge 2 "those past the CPU count on stdin"
    # Those get sudo's agent unpacked (PROTOCOL 2.2), where the build packs it.
    local leaf=${MITOGEN_AGENT:-$MG_BUILD_DIR/cmd/mitogen-agent}-leaf.raw
    [[ -f $leaf ]] || return 0
    assert "$(grep -c "the agent unpacked ($(stat -c %s "$leaf") bytes) goes in place of the packed image" <<<"$stderr")" == \
        "$(grep -c 'sudo runs in the command: .*, the image on stdin' <<<"$stderr")" "the leaf unpacked for each of them"
}

@test "mitogen-exec and sftp over the fused chain: the sudo hop's agent fetches the program" {
    need_fusing
    # The agent at the end of the ssh link is the sudo hop's: its FETCH
    # (and any frame only the link's own child may send) comes from it.
    printf '#!/bin/sh\necho "prog as $(id -un): $*"\n' >"$MG_TMP/prog"
    chmod +x "$MG_TMP/prog"
    run_mg_sep mitogen-exec -vv "$(ssh_hop)/sudo" -- "$MG_TMP/prog" a b
    assert "$output" == "prog as root: a b"
    assert "$stderr" =~ "sudo runs in the command"
    echo fetched >"$MG_TMP/f"
    printf 'put %s %s\n' "$MG_TMP/f" "$MG_TMP/got" >"$MG_TMP/batch"
    run_mg_sep sftp -S fakessh -F "$MG_SSH_CONFIG" -P "$MG_SSH_PORT" -b "$MG_TMP/batch" \
        ssh=127.0.0.1+sudo
    assert "$(cat "$MG_TMP/got")" == "fetched" "sftp put through the fused chain"
    assert "$(stat -c %U "$MG_TMP/got")" == "root"
}

@test "the connect timeout while sudo hangs, then refuses: no agent file is left behind" {
    need_fusing
    # A sudo that takes its time (a slow PAM or name lookup), then says
    # no: by then the master gave up and the link is gone, and the first
    # stage's MITO003 meets a closed pipe.
    cat >"$MG_TMP/slow-sudo" <<SH
#!/bin/sh
p=; for a; do [ "\$p" = --boot ] && f=\$a; p=\$a; done
echo "\$f" >"$MG_TMP/slow-sudo.file"
sleep 3
echo done >"$MG_TMP/slow-sudo.done"
exit 1
SH
    chmod +x "$MG_TMP/slow-sudo"
    run_mg_sep 255 mitogen-run -t 1 "$(ssh_hop)/sudo?sudo_path=$(mg_pct "$MG_TMP/slow-sudo")" -- true
    assert "$stderr" =~ "connect timed out"
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -e $MG_TMP/slow-sudo.done ]] && break
        sleep 0.1
    done
    sleep 0.5
    local f
    f=$(cat "$MG_TMP/slow-sudo.file")
    assert "$f" =~ "/.mitogen-agent." "sudo was given the agent file"
    [[ ! -e $f ]] || die "the agent file $f was left behind"
}

@test "sudo slower than -t, within the sudo hop's connect_timeout: it connects, as with two agents" {
    need_fusing
    # With two agents the ssh hop has -t to come up, then the sudo hop
    # its own time limit; sudo in the ssh command gets both.
    printf '#!/bin/sh\nsleep 4\nexec sudo "$@"\n' >"$MG_TMP/slow-sudo"
    chmod +x "$MG_TMP/slow-sudo"
    run_mg_sep mitogen-run -vv -t 3 \
        "$(ssh_hop)/sudo?connect_timeout=20&sudo_path=$(mg_pct "$MG_TMP/slow-sudo")" -- id -un
    assert "$output" == "root"
    assert "$stderr" =~ "sudo runs in the command"
}

@test "the ssh hop fails (stderr) as MITO003 comes, in the same turn of the loop: no crash" {
    need_fusing
    # A stand-in for ssh: a denial on stderr and MITO003 on stdout, both
    # written while the master is stopped, so that one turn of its loop
    # sees both: the failure first, then the marker for a hop that is gone.
    cat >"$MG_TMP/ssh" <<SH
#!/bin/sh
printf 'MITO000\n'
: >"$MG_TMP/started"
while [ ! -e "$MG_TMP/go" ]; do sleep 0.05; done
printf 'user@host: Permission denied\n' >&2
printf 'MITO003\n'
sleep 3
SH
    chmod +x "$MG_TMP/ssh"
    local i pid rc=0
    mitogen-run -vv "ssh:h?ssh_path=$(mg_pct "$MG_TMP/ssh")/sudo,local" -- echo ran \
        >"$MG_TMP/out" 2>"$MG_TMP/err" &
    pid=$!
    for ((i = 0; i < 100; i++)); do
        [[ -e $MG_TMP/started ]] && break
        sleep 0.05
    done
    sleep 0.2
    kill -STOP "$pid"
    touch "$MG_TMP/go"
    sleep 0.3
    kill -CONT "$pid"
    wait "$pid" || rc=$?
    assert "$(cat "$MG_TMP/err")" =~ "sudo runs in the command" "the hop was fused"
    assert "$rc" == "255" "the ssh hop failed, and nothing crashed"
    assert "$(cat "$MG_TMP/err")" =~ "SSH authentication is incorrect"
    assert "$(grep -c "ran$" "$MG_TMP/out")" == "1" "the other target ran"
}
