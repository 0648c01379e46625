#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# What a command finds at the far end is what ssh would have given it
# (issue 13, items 1, 2, 3 and 15): the umask of the hop's login, not the
# first stage's 077; a file without #! run by /bin/sh as execvp does; one
# COMMAND word run by the user's login shell (when /etc/shells lists it)
# as sshd does, /bin/sh with --sh; and a -C directory that cannot be
# entered reported as `cd DIR && COMMAND` would, status 1. Over local,
# fork and sudo hops, and side by side with ssh to the private sshd.

load helpers
load sshd

function setup_file() {
    start_sshd
    # Users with a login shell of their own: bash (in /etc/shells) and
    # nologin (not in it). Unique per run; removed in teardown_file.
    MG_BASH_USER=
    MG_NOLOGIN_USER=
    MG_LIKE_SKIP=
    local nologin
    nologin=$(command -v nologin || echo /usr/sbin/nologin)
    if ! is_root; then
        MG_LIKE_SKIP="needs root: it creates test users"
    elif ! command -v useradd >/dev/null || ! command -v sudo >/dev/null || [[ ! -x /bin/bash ]]; then
        MG_LIKE_SKIP="needs useradd, sudo and /bin/bash"
    elif grep -qx "$nologin" /etc/shells 2>/dev/null; then
        MG_LIKE_SKIP="$nologin is listed in /etc/shells here"
    else
        MG_BASH_USER=mgbash$$
        MG_NOLOGIN_USER=mgnolog$$
        if useradd -m -s /bin/bash "$MG_BASH_USER" 2>/dev/null &&
            useradd -M -s "$nologin" "$MG_NOLOGIN_USER" 2>/dev/null; then
            if [[ -z $MG_SSHD_SKIP ]]; then
                # Not locked ('!'): sshd refuses a locked account a key.
                usermod -p '*' "$MG_BASH_USER"
                local home
                home=$(getent passwd "$MG_BASH_USER" | cut -d: -f6)
                install -d -m 700 -o "$MG_BASH_USER" "$home/.ssh"
                install -m 600 -o "$MG_BASH_USER" "$MG_SSHD_DIR/client_key.pub" "$home/.ssh/authorized_keys"
            fi
        else
            MG_LIKE_SKIP="could not create the test users"
        fi
    fi
    export MG_BASH_USER MG_NOLOGIN_USER MG_LIKE_SKIP
}

function teardown_file() {
    stop_sshd
    local u
    for u in ${MG_BASH_USER:-} ${MG_NOLOGIN_USER:-}; do
        userdel -r -f "$u" >/dev/null 2>&1 || userdel -f "$u" >/dev/null 2>&1 || true
    done
}

function need_users() {
    if [[ -n ${MG_LIKE_SKIP:-} || -z ${MG_BASH_USER:-} ]]; then
        skip "${MG_LIKE_SKIP:-setup_file made no users}"
    fi
}

# ssh itself to the private sshd, for the bytes to compare with:
# ssh_plain USER COMMAND...
function ssh_plain() {
    local user=$1
    shift
    ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" -o BatchMode=yes -l "$user" 127.0.0.1 "$@"
}

# Run COMMAND with ssh and with mitogen-run on the same user of the same
# sshd: stdout, stderr and the exit status must be the same bytes.
function same_as_ssh() {
    local user=$1
    shift
    local rc_ssh=0
    ssh_plain "$user" "$@" >"$MG_TMP/ssh.out" 2>"$MG_TMP/ssh.err" </dev/null || rc_ssh=$?
    assert "$rc_ssh" -ne 255 "ssh itself reaches $user ($(cat "$MG_TMP/ssh.err"))"
    run_mg_sep "$rc_ssh" mitogen-run -n "$(ssh_hop "$user")" "$@"
    run cmp "$MG_TMP/ssh.out" "$MG_STDOUT_FILE"
    assert "$status" -eq 0 "[$*] as $user: stdout as ssh's ($(cat "$MG_TMP/ssh.out"))"
    run cmp "$MG_TMP/ssh.err" "$MG_STDERR_FILE"
    assert "$status" -eq 0 "[$*] as $user: stderr as ssh's ($(cat "$MG_TMP/ssh.err"))"
}

@test "umask: commands get the login's, not the first stage's 077" {
    local chain
    for chain in local fork 'local?first_stage=1' 'local?first_stage=1/local?first_stage=1' \
        'local/local?first_stage=1' 'local?first_stage=1/fork'; do
        run_mg_sep bash -c "umask 0002 && exec mitogen-run '$chain' umask"
        assert "$output" == "0002" "$chain: the umask of the process that started the hop"
        run_mg_sep bash -c "umask 0027 && exec mitogen-run '$chain' -- sh -c umask"
        assert "$output" == "0027" "$chain: the same without a shell in between"
    done

    # What a command creates has the modes that umask gives.
    run_mg_sep bash -c "umask 0022 && exec mitogen-run 'local?first_stage=1' \
        'touch $MG_TMP/f && mkdir $MG_TMP/d && stat -c %a $MG_TMP/f $MG_TMP/d'"
    assert "${lines[*]}" == "644 755" "a new file and directory: 644 and 755 under umask 022"

    # A pushed program and a terminal get it too.
    printf '#!/bin/sh\numask\n' >"$MG_TMP/prog"
    chmod +x "$MG_TMP/prog"
    run_mg_sep bash -c "umask 0002 && exec mitogen-exec 'local?first_stage=1' $MG_TMP/prog"
    assert "$output" == "0002" "mitogen-exec: the pushed program"
    run_mg_sep bash -c "umask 0002 && exec mitogen-run -T 'local?first_stage=1' umask </dev/null"
    assert "${output%$'\r'}" == "0002" "-T: the command on a terminal"
}

@test "signals: the command starts with none ignored or blocked, as sshd starts it" {
    # The static agent's libc (musl) spawns with its own signals 32 to 34
    # ignored unless asked for their defaults, and an ignored signal stays
    # ignored across exec: what ssh gives is SigIgn and SigBlk all zero.
    local chain want=$'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000'
    for chain in local fork 'local?first_stage=1' local/local 'local?first_stage=1/fork'; do
        run_mg_sep mitogen-run "$chain" -- grep -E '^Sig(Blk|Ign):' /proc/self/status
        assert "$output" == "$want" "$chain: no signal ignored or blocked"
    done
    # A terminal takes the fork path, not posix_spawn.
    run_mg_sep mitogen-run -T local/local -- grep -E '^Sig(Blk|Ign):' /proc/self/status </dev/null
    assert "${output//$'\r'/}" == "$want" "-T: no signal ignored or blocked"
    if command -v sudo >/dev/null && is_root; then
        run_mg_sep mitogen-run local/sudo:nobody -- grep -E '^Sig(Blk|Ign):' /proc/self/status
        assert "$output" == "$want" "local/sudo:nobody: no signal ignored or blocked"
    fi
    if [[ -z $MG_SSHD_SKIP ]]; then
        run_mg_sep mitogen-run "$(ssh_hop)" -- grep -E '^Sig(Blk|Ign):' /proc/self/status
        assert "$output" == "$want" "ssh: no signal ignored or blocked"
        ssh_plain root grep -E "'^Sig(Blk|Ign):'" /proc/self/status >"$MG_TMP/ssh.out" </dev/null
        assert "$(cat "$MG_TMP/ssh.out")" == "$want" "ssh itself gives the same"
    fi
}

@test "umask: the first stage keeps the agent's file private and passes the login's on" {
    # A stand-in agent that tells what it was started with: its file's
    # mode, its own umask (the login's: only the subshell that made the
    # file took 077) and its arguments.
    cat >"$MG_TMP/agent" <<EOF
#!/bin/sh
printf '%s %s %s %s %s\n' "\$(stat -c %a "\$2")" "\$(umask)" "\$#" "\$1" "\$3" >$MG_TMP/seen
rm -f "\$2"
exit 1
EOF
    chmod +x "$MG_TMP/agent"
    run_mg_sep 255 env MITOGEN_AGENT="$MG_TMP/agent" bash -c \
        "umask 0002 && exec mitogen-run 'local?first_stage=1' true"
    run cat "$MG_TMP/seen"
    assert "$output" == "700 0002 3 --boot -" "file 0700; the login's umask kept: FILE --boot FILE -"
}

@test "umask over ssh: what ssh gives" {
    need_sshd
    same_as_ssh root umask
    same_as_ssh root 'touch /tmp/mg-like-ssh.$$ && stat -c %a /tmp/mg-like-ssh.$$ && rm /tmp/mg-like-ssh.$$'
}

@test "a file without #!, or empty, is run by /bin/sh as execvp does" {
    mkdir "$MG_TMP/bin"
    printf 'printf "[%%s]" "$0" "$@"; echo; exit 3\n' >"$MG_TMP/bin/noshebang"
    : >"$MG_TMP/bin/empty"
    chmod +x "$MG_TMP/bin/noshebang" "$MG_TMP/bin/empty"

    local chain
    for chain in local local/local 'local?first_stage=1'; do
        run_mg_sep 3 mitogen-run "$chain" -- "$MG_TMP/bin/noshebang" 'a b' "c'd"
        assert "$output" == "[$MG_TMP/bin/noshebang][a b][c'd]" \
            "$chain: run by sh with its path as \$0, its arguments after it, its status back"
        assert "$stderr" == "" "$chain: nothing on stderr"

        run_mg_sep 0 mitogen-run "$chain" -- "$MG_TMP/bin/empty" x
        assert "$output$stderr" == "" "$chain: an empty executable does nothing and succeeds"
    done

    # Found through PATH, as execvp finds it; and on a terminal.
    run_mg_sep 3 env PATH="$MG_TMP/bin:$PATH" mitogen-run local -- noshebang z
    assert "$output" == "[$MG_TMP/bin/noshebang][z]" "found in PATH: run with the path where it was found"
    run_mg_sep 3 mitogen-run -T local -- "$MG_TMP/bin/noshebang" t </dev/null
    assert "${output%$'\r'}" == "[$MG_TMP/bin/noshebang][t]" "-T: the same"

    # What is no program at all still fails as before.
    printf 'x' >"$MG_TMP/bin/notexec"
    run_mg_sep 126 mitogen-run local -- "$MG_TMP/bin/notexec"
    assert "$stderr" =~ "notexec: Permission denied" "not executable: 126"
}

@test "a file without #! over ssh: as ssh runs it" {
    need_sshd
    printf 'echo "[$0]" "$@"\n' >"$MG_TMP/noshebang"
    chmod 755 "$MG_TMP" "$MG_TMP/noshebang"
    same_as_ssh root "$MG_TMP/noshebang" a b
}

@test "one word runs through the login shell when /etc/shells lists it, else /bin/sh" {
    need_users
    local script='echo "$0" {1..3}; [[ a == a ]] && echo double-brackets'
    run_mg_sep mitogen-run "sudo:$MG_BASH_USER" "$script"
    assert "${lines[*]}" == "bash 1 2 3 double-brackets" "a bash login shell: bash runs it, \$0 is its name"

    # Forced to /bin/sh: --sh, one word or several joined.
    run_mg_sep mitogen-run --sh "sudo:$MG_BASH_USER" 'echo "$0" {1..3}'
    assert "$output" == "sh {1..3}" "--sh: /bin/sh runs it"
    run_mg_sep mitogen-run --sh "sudo:$MG_BASH_USER" echo '"$0"' '{1..3}'
    assert "$output" == "sh {1..3}" "--sh with several words: joined, /bin/sh"
    run_mg_sep mitogen-run --shell "sudo:$MG_BASH_USER" echo '"$0"' '{1..3}'
    assert "$output" == "bash 1 2 3" "--shell with several words: joined, the login shell"
    run_mg_sep 2 mitogen-run --sh --no-shell local true
    assert "$stderr" =~ "^mitogen-run: --sh and --no-shell exclude each other" "--sh with --no-shell"

    # A shell /etc/shells does not list (nologin): /bin/sh, as for a
    # service account.
    run_mg_sep mitogen-run "sudo:$MG_NOLOGIN_USER" 'echo "$0" {1..3}'
    assert "$output" == "sh {1..3}" "nologin: /bin/sh runs it"

    # The local end: this user's own login shell.
    local sh
    sh=$(getent passwd "$(id -un)" | cut -d: -f7)
    grep -qx -- "$sh" /etc/shells || sh=/bin/sh
    run_mg_sep mitogen-run local 'echo "$0"'
    assert "$output" == "${sh##*/}" "local: the login shell of $(id -un) ($sh)"
}

@test "one word over ssh: the same bytes and status as ssh gives" {
    need_sshd
    need_users
    local cmd
    for cmd in 'echo "$0" {1..3}' '[[ a == a ]] && echo -e "a\tb"' 'no-such-command-mg' \
        'echo out; echo err >&2; exit 7'; do
        same_as_ssh "$MG_BASH_USER" "$cmd"
        same_as_ssh root "$cmd"
    done
}

@test "-C DIR that cannot be entered: as cd DIR && COMMAND, status 1" {
    run_mg_sep 1 mitogen-run -C /nonexistent-mg local pwd
    assert "$output" == "" "the command did not run"
    assert "$stderr" == "mitogen-run: local: cd: /nonexistent-mg: No such file or directory" \
        "the failed cd is named, not the command"

    run_mg_sep 1 mitogen-run -C /etc/passwd local/local -- pwd
    assert "$stderr" == "mitogen-run: local/local: cd: /etc/passwd: Not a directory" "a file"

    run_mg_sep 1 mitogen-exec -C /nonexistent-mg local /bin/true
    assert "$stderr" =~ "cd: /nonexistent-mg: No such file or directory" "mitogen-exec: the same"

    # Many targets: the status counts like any other.
    run_mg_sep 1 mitogen-run -C /nonexistent-mg -w local,local/local pwd
    assert "$stderr" =~ "cd: /nonexistent-mg: No such file or directory" "many targets: the cause"

    # A directory that exists still works, with and without a shell.
    run_mg_sep mitogen-run -C /usr local pwd
    assert "$output" == "/usr" "-C /usr"
    # '~': the far user's home as sshd enters it, / when there is none.
    local nobody
    nobody=$(getent passwd nobody | cut -d: -f6)
    [[ -n $nobody && -d $nobody ]] || nobody=/
    run_mg_sep mitogen-run -C '~' local pwd
    assert "$output" == "$(getent passwd "$(id -un)" | cut -d: -f6)" "-C ~: our home"
    if command -v sudo >/dev/null; then
        run_mg_sep mitogen-run -C '~' local/sudo:nobody pwd
        assert "$output" == "$nobody" "-C ~ through sudo:nobody"
    fi
}

@test "-C DIR over ssh: the status of cd DIR && COMMAND" {
    need_sshd
    local rc=0
    ssh_plain root 'cd /nonexistent-mg && pwd' >/dev/null 2>&1 </dev/null || rc=$?
    run_mg_sep "$rc" mitogen-run -C /nonexistent-mg "$(ssh_hop root)" pwd
    assert "$stderr" =~ "cd: /nonexistent-mg: No such file or directory" "the failed cd, over ssh"
}

@test "-C '~/DIR': DIR in the far user's home, as cd ~/DIR && COMMAND" {
    need_users
    local home
    home=$(getent passwd "$MG_BASH_USER" | cut -d: -f6)
    install -d -o "$MG_BASH_USER" "$home/mg-sub"
    # The agent (local/sudo) and, over ssh, the leaf agent: each expands it.
    run_mg_sep mitogen-run -C '~/mg-sub' local/sudo:"$MG_BASH_USER" pwd
    assert "$output" == "$home/mg-sub" "-C ~/mg-sub through sudo"
    run_mg_sep 1 mitogen-run -C '~/mg-none' local/sudo:"$MG_BASH_USER" pwd
    assert "$stderr" =~ "cd: $home/mg-none: No such file or directory" "a missing one is named as entered"
    if [[ -z $MG_SSHD_SKIP ]]; then
        run_mg_sep mitogen-run -C '~/mg-sub' "$(ssh_hop "$MG_BASH_USER")" -- pwd
        assert "$output" == "$home/mg-sub" "-C ~/mg-sub over ssh"
        run_mg_sep mitogen-run -C '~/mg-sub' "$(ssh_hop "$MG_BASH_USER")/local" -- pwd
        assert "$output" == "$home/mg-sub" "-C ~/mg-sub over ssh, then local"
    fi
    # Only '~' and '~/' are the home: '~user' and '~x' are names as given.
    run_mg_sep 1 mitogen-run -C '~mg-sub' local/sudo:"$MG_BASH_USER" pwd
    assert "$stderr" =~ "cd: ~mg-sub: No such file or directory" "~mg-sub is no home"
}

# vim: filetype=sh
