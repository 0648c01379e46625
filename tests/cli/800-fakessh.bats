#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# fakessh's direct mode: ssh's command line, a chain as DEST, the command
# run as sshd runs it, binary-clean stdio, ssh's exit statuses; and the
# real clients over it (rsync, sftp). ssh hops use the private sshd.

load helpers
load sshd

function setup_file() {
    start_sshd
}

function teardown_file() {
    stop_sshd
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

@test "fakessh local echo hi: stdout, nothing on stderr, status 0" {
    run_mg_sep fakessh local echo hi
    assert "$output" == "hi" "the command's output, raw"
    assert "$stderr" == "" "nothing on stderr"
}

@test "the exit status is the remote one" {
    local rc
    for rc in 0 1 7 254; do
        run_mg_sep "$rc" fakessh local "exit $rc"
    done
    # A signal ended it: no status, 255 as ssh (its shell's 128+N is one).
    run_mg_sep 255 fakessh local 'kill -TERM $$'
    assert "$stderr" == "" "nothing said, as ssh"
    run_mg_sep 255 fakessh -v local 'kill -KILL $$'
    assert "$stderr" =~ "killed by signal 9" "-v says why"
    run_mg_sep 143 fakessh local 'sh -c "kill -TERM \$\$"; exit $?'
    # Under fakessh run (attached), the same.
    run_mg_sep 255 fakessh run local -- ssh . 'kill -TERM $$'
}

@test "COMMAND words are joined and re-split by the far shell, as with ssh" {
    run_mg_sep fakessh local printf '%s.' "a b"
    assert "$output" == "a.b." "'a b' became two words"
    run_mg_sep fakessh local "printf '%s\n' 'a b'"
    assert "$output" == "a b" "quoted for the far shell: one word"
    run_mg_sep fakessh local echo '$((6*7))' '|' tr 4 X
    assert "$output" == "X2" "the far shell expands and pipes"
}

@test "-q: nothing of fakessh's own on stderr, as ssh -q; the far command's stderr passes" {
    run_mg_sep 255 fakessh sudo:mg-no-such-user true
    assert "$stderr" =~ "no user 'mg-no-such-user'" "without -q the hop's error is printed"
    run_mg_sep 255 fakessh -q sudo:mg-no-such-user true
    assert "$stderr" == "" "-q: a setup failure is told by 255 alone"
    run_mg_sep fakessh -q -v -1 -L 1:h:2 local true
    assert "$stderr" == "" "-q -v: no notes"
    run_mg_sep 255 fakessh -q -v sudo:mg-no-such-user true
    assert "$stderr" =~ "no user 'mg-no-such-user'" "-q -v: errors are printed again"
    run_mg_sep 4 fakessh -q local 'echo far >&2; exit 4'
    assert "$stderr" == "far" "the far command's stderr still passes"
    run_mg_sep 255 fakessh -q -Z local true
    assert "$stderr" =~ "[Uu]sage" "a usage error is printed even with -q"
}

@test "options after DEST until the first COMMAND word, -- ends them" {
    run_mg_sep fakessh local -n -q echo -n x
    assert "$output" == "x" "-n -q read as options, -n after echo is echo's"
    run_mg_sep fakessh -G -- web1 -p 5
    assert "${lines[3]}" == "port 22" "after --, -p 5 is the command"
    run_mg_sep fakessh -G web1 -p 5 -- -p 6
    assert "${lines[3]}" == "port 5" "before --, after DEST, -p counts"
}

@test "stdin and stdout are binary-clean; stderr stays apart" {
    head -c 1048576 /dev/urandom >"$MG_TMP/in"
    fakessh local cat <"$MG_TMP/in" >"$MG_TMP/out" 2>"$MG_TMP/err"
    cmp "$MG_TMP/in" "$MG_TMP/out" || die "1 MiB of random bytes changed on the way"
    assert "$(cat "$MG_TMP/err")" == "" "nothing on stderr"

    run_mg_sep fakessh local 'echo out; echo err >&2'
    assert "$output" == "out" "stdout"
    assert "$stderr" == "err" "stderr, separate"
}

@test "-n: the command reads /dev/null" {
    run_mg_sep fakessh -n local 'cat; echo end' < <(echo should-not-arrive)
    assert "$output" == "end" "no input reached the command"
}

@test "rsync -e fakessh: push and pull, chain and path-safe DEST" {
    skip_if_no_program rsync
    make_tree "$MG_TMP/src"
    local dest
    for dest in local local+local 'local/local'; do
        rm -rf "$MG_TMP/dst"
        if [[ $dest == */* ]]; then
            # rsync splits host:path at the first ':' and rejects nothing
            # here, but '/' in a host is what the path-safe spelling avoids.
            continue
        fi
        run_mg_sep rsync -a -e fakessh "$MG_TMP/src/" "$dest:$MG_TMP/dst/"
        diff -r "$MG_TMP/src" "$MG_TMP/dst" || die "push to $dest: trees differ"
    done
    run_mg_sep rsync -a -e fakessh "local:$MG_TMP/src/" "$MG_TMP/pulled/"
    diff -r "$MG_TMP/src" "$MG_TMP/pulled" || die "pull: trees differ"
    [[ ! -e "$MG_TMP/pwned" && ! -e pwned ]] || die "a file name ran as a command"
}

@test "git with GIT_SSH_COMMAND=fakessh: clone and push" {
    skip_if_no_program git
    local g=(git -c user.email=t@t -c user.name=t -c init.defaultBranch=main -c advice.detachedHead=false)
    "${g[@]}" init -q --bare "$MG_TMP/repo.git"
    "${g[@]}" init -q "$MG_TMP/seed"
    "${g[@]}" -C "$MG_TMP/seed" commit -q --allow-empty -m one
    "${g[@]}" -C "$MG_TMP/seed" push -q "$MG_TMP/repo.git" HEAD:refs/heads/main

    # git probes the ssh variant with -G, then passes -o SendEnv=GIT_PROTOCOL.
    GIT_SSH_COMMAND=fakessh run_mg_sep "${g[@]}" clone -q "local:$MG_TMP/repo.git" "$MG_TMP/clone"
    assert "$("${g[@]}" -C "$MG_TMP/clone" log --format=%s)" == "one" "cloned"
    "${g[@]}" -C "$MG_TMP/clone" commit -q --allow-empty -m two
    GIT_SSH_COMMAND=fakessh run_mg_sep "${g[@]}" -C "$MG_TMP/clone" push -q origin HEAD:main
    assert "$("${g[@]}" -C "$MG_TMP/repo.git" log --format=%s main | head -1)" == "two" "pushed"
}

@test "-G: an ssh -G style dump, nothing connected" {
    touch "$MG_TMP/id"
    run_mg_sep fakessh -G -l bob -p 2222 -i "$MG_TMP/id" web1
    assert "${lines[0]}" == "host web1" "host"
    assert "${lines[1]}" == "user bob" "user from -l"
    assert "${lines[2]}" == "hostname web1" "a bare name is an ssh host"
    assert "${lines[3]}" == "port 2222" "port from -p"
    assert "$output" =~ $'\nidentityfile '"$MG_TMP/id"$'\n' "identity"
    assert "$output" =~ $'\nchain ssh:web1' "the chain"

    # The first ssh hop's values as its ssh sees them, ssh_config applied.
    printf 'Host webalias\n  HostName 127.0.0.9\n  Port 2345\n  User zed\n' >"$MG_TMP/config"
    run_mg_sep fakessh -F "$MG_TMP/config" -G webalias
    assert "${lines[1]}" == "user zed" "user from the ssh_config"
    assert "${lines[2]}" == "hostname 127.0.0.9" "HostName from the ssh_config"
    assert "${lines[3]}" == "port 2345" "Port from the ssh_config"
    run_mg_sep fakessh -G local
    assert "$output" =~ $'^host local\n.*\nchain local$' "no ssh hop: our own lines"

    # ssh's rule: the first user given wins; user@ before a later -l.
    run_mg_sep fakessh -G alice@ssh=web1=22+sudo=root -l bob
    assert "${lines[1]}" == "user alice" "DEST's user@ beats a later -l"
    assert "${lines[2]}" == "hostname web1" "first ssh hop"
    assert "${lines[3]}" == "port 22" "its port"
    run_mg_sep fakessh -G -oUser=carol alice@web1
    assert "${lines[1]}" == "user carol" "an earlier -o User beats DEST's user@"
}

@test "ssh options reach the first ssh hop's ssh word for word" {
    local chain
    # No ssh in PATH to ask: -G prints its own lines (a real ssh -G
    # would refuse 'ControlPath=X Y', as it would to connect).
    run_mg_sep env PATH="$MG_BUILD_DIR/cmd" fakessh -G -J "a b'c\"d" -o 'ControlPath=X Y' -i '/k 1' -i "/k'2" -p 2 bob@ssh=web1+local
    chain=$(sed -n 's/^chain //p' <<<"$output")
    assert "$chain" =~ "/local$" "the later hops kept"
    # mitogen-run --dry-run shows the ssh argv the hop would run.
    run_mg_sep mitogen-run --dry-run "$chain" true
    assert "${lines[0]}" =~ " -l bob -p 2 " "user and port"
    assert "${lines[0]}" =~ " -i '/k 1' " "the first key: identity_file"
    local want=" -i '/k'\\''2' -J 'a b'\\''c\"d' -o 'ControlPath=X Y' web1 "
    [[ ${lines[0]} == *"$want"* ]] || die "the rest, exact: wanted $want"
}

@test "DEST may be an alias of the configuration file" {
    mkdir -p "$MG_TMP/cfg/mitogen"
    printf '[aliases]\nbox = local/local\n' >"$MG_TMP/cfg/mitogen/config"
    XDG_CONFIG_HOME=$MG_TMP/cfg run_mg_sep fakessh box 'echo $((1+2))'
    assert "$output" == "3" "ran through the alias"
    XDG_CONFIG_HOME=$MG_TMP/cfg run_mg_sep fakessh -G box
    assert "${lines[-1]}" == "chain local/local" "the alias's chain"
}

@test "-V: a version line on stderr, exit 0" {
    run_mg_sep fakessh -V
    assert "$output" == "" "nothing on stdout"
    assert "$stderr" =~ "^OpenSSH_[0-9]+\.[0-9]+ command line, fakessh \(mitogen-c [0-9]+\.[0-9]+.*\), not OpenSSH$" "version"
    # What version probes parse: the first word's OpenSSH_X.Y, up to a
    # space or a comma (ssh's own line is "OpenSSH_9.2p1 Debian-2, ...").
    local first=${stderr%%[ ,]*}
    assert "$first" =~ "^OpenSSH_[0-9]+\.[0-9]+$" "the first word alone names a version"
}

@test "bad command lines: ssh's message, exit 255" {
    run_mg_sep 255 fakessh -z local true
    assert "${stderr_lines[0]}" == "fakessh: unknown option -- z" "ssh's getopt message"
    assert "${stderr_lines[1]}" =~ "^usage: fakessh " "the usage text"
    run_mg_sep 255 fakessh local -p
    assert "${stderr_lines[0]}" == "fakessh: option requires an argument -- p" "missing argument"
    run_mg_sep 255 fakessh -p 0 local true
    assert "$stderr" == "fakessh: Bad port '0'" "bad port: ssh's message, no usage text after it"
    run_mg_sep 255 fakessh -o SetEnv=x local true
    assert "$stderr" == "fakessh: Invalid SetEnv 'x'" "a bad -o value: no usage text either"
    run_mg_sep 255 fakessh 'ssh:' true
    assert "$stderr" =~ "^fakessh: bad destination 'ssh:': " "malformed DEST"
    run_mg_sep 255 fakessh -l $'a\nb' web1 true
    assert "$stderr" =~ "^fakessh: bad options for the ssh hop of 'web1': .*control character" "hostile -l"
    run_mg_sep 255 fakessh 'local,local' true
    assert "$stderr" =~ "names 2 chains, not one" "one DEST, one chain"
    assert "$output" == "" "nothing ran"
}

@test "what is not built yet is refused with 255, never faked" {
    run_mg_sep 255 fakessh -s local netconf
    assert "$stderr" == "fakessh: only the sftp subsystem is supported, not 'netconf'" "-s other"
    # ssh sends the words joined with spaces as one name, and sshd looks
    # the whole name up: "sftp extra" is no subsystem (ssh: "subsystem
    # request failed on channel 0", 255). Nothing may run.
    run_mg_sep 255 fakessh -s local sftp extra </dev/null
    assert "$stderr" == "fakessh: only the sftp subsystem is supported, not 'sftp extra'" "-s sftp extra"
    assert "$output" == "" "no server ran"
    run_mg_sep 255 fakessh -s local 'sftp ' </dev/null
    assert "$stderr" == "fakessh: only the sftp subsystem is supported, not 'sftp '" "-s 'sftp '"
}

@test "a chain that cannot be set up: 255 and the hop named" {
    run_mg_sep 255 fakessh 'local/docker:x?docker_path=%2Fnonexistent' true
    assert "$stderr" =~ "^fakessh: local/docker:x.*nonexistent" "the failing hop"
}

@test "-E FILE: fakessh's own messages go to FILE, not stderr, as ssh -E" {
    run_mg_sep 255 fakessh -E "$MG_TMP/log" 'local/docker:x?docker_path=%2Fnonexistent' true
    assert "$stderr" == "" "nothing of ours on stderr"
    assert "$(<"$MG_TMP/log")" =~ "fakessh: local/docker:x.*nonexistent" "the failing hop, in the file"
    # Notes under -v too; the far command's own stderr stays stderr.
    run_mg_sep fakessh -v -E "$MG_TMP/log2" local 'echo out; echo err >&2'
    assert "$output" == "out" "stdout"
    assert "$stderr" == "err" "the command's stderr only"
    assert "$(<"$MG_TMP/log2")" =~ "local: agent up" "-v's notes in the file"
    [[ $(<"$MG_TMP/log2") != *"ignored: -E"* ]] || die "-E is no ignored option"
    run_mg_sep 255 fakessh -E "$MG_TMP/no/such/dir/log" local true
    assert "$stderr" =~ "^Couldn't open logfile .*/no/such/dir/log: " "ssh's words"
}

@test "options that cannot apply are ignored, with a note under -v" {
    run_mg_sep fakessh -1 -L 1:h:2 -e none -w 1:2 -x -o ForwardX11=no local echo ok
    assert "$output" == "ok" "ran"
    assert "$stderr" == "" "quiet without -v"
    run_mg_sep fakessh -v -1 -L 1:h:2 local true
    assert "$stderr" =~ "-1 does not apply here" "note for -1"
    assert "$stderr" =~ "no ssh hop to give these options to: ignored: -L 1:h:2" "note for -L"
}

@test "-t without a terminal: ssh's warning, no pty; -T none" {
    run_mg_sep 1 fakessh -t local tty </dev/null
    assert "$stderr" =~ "Pseudo-terminal will not be allocated" "ssh's warning"
    run_mg_sep 1 fakessh -qt local tty </dev/null
    assert "$stderr" == "" "-q silences it"
}

@test "no COMMAND: the far user's login shell, reading our stdin" {
    run_mg_sep 3 fakessh local < <(printf '%s\n' 'echo hi $((2+3))' 'case $0 in -*) echo login;; esac; shopt -q login_shell 2>/dev/null && echo login' 'exit 3')
    assert "${lines[0]}" == "hi 5" "the shell ran our stdin"
    assert "${lines[1]}" == "login" "as a login shell"
    # ssh asks for a terminal for a login, and says why it gets none.
    assert "$stderr" =~ "Pseudo-terminal will not be allocated" "ssh's warning"
    run_mg_sep 0 fakessh -T local </dev/null
    assert "$stderr" == "" "-T: no terminal asked, no warning"
}

@test "on a terminal: a login gets a pty at the far end, and so does -t" {
    skip_if_no_program script
    local out
    out=$(printf 'tty; exit 4\n' | timeout 30 script -qec "fakessh local" /dev/null | tr -d '\r')
    printf '%s\n' "$out"
    assert "$out" =~ "/dev/pts/" "a terminal at the far end"
    out=$(timeout 30 script -qec "fakessh -t local 'tty; exit 5'" /dev/null </dev/null | tr -d '\r')
    printf '%s\n' "$out"
    assert "$out" =~ "/dev/pts/" "-t: a terminal at the far end"
    out=$(timeout 30 script -qec "fakessh -T local tty" /dev/null </dev/null | tr -d '\r')
    assert "$out" =~ "not a tty" "-T: none"
    # -n (and -f) replace the terminal with /dev/null: none, as ssh, with
    # its warning; -tt still forces one; the last of -T and -t counts.
    out=$(timeout 30 script -qec "fakessh -n -t local 'tty; exit 5'" /dev/null </dev/null | tr -d '\r')
    assert "$out" =~ "not a tty" "-n -t: none"
    assert "$out" =~ "Pseudo-terminal will not be allocated" "-n -t: ssh's warning"
    out=$(timeout 30 script -qec "fakessh -n local" /dev/null </dev/null | tr -d '\r')
    assert "$out" =~ "Pseudo-terminal will not be allocated" "-n, a login: ssh's warning"
    out=$(timeout 30 script -qec "fakessh -n -tt local tty" /dev/null </dev/null | tr -d '\r')
    assert "$out" =~ "/dev/pts/" "-n -tt: forced"
    out=$(timeout 30 script -qec "fakessh -T -t local tty" /dev/null </dev/null | tr -d '\r')
    assert "$out" =~ "/dev/pts/" "-T -t: -t counts"
}

@test "sftp -S fakessh -s sftp: put and get through the far sftp-server" {
    skip_if_no_program sftp
    local found
    found=$(openssh_server)
    [[ -n $found ]] || skip "no sftp-server on this machine"
    head -c 200000 /dev/urandom >"$MG_TMP/f one"
    printf 'put "%s" "%s"\nget "%s" "%s"\n' "$MG_TMP/f one" "$MG_TMP/f two" "$MG_TMP/f two" "$MG_TMP/f three" \
        >"$MG_TMP/batch"
    run_mg_sep sftp -S fakessh -b "$MG_TMP/batch" local
    cmp "$MG_TMP/f one" "$MG_TMP/f two" || die "put changed the file"
    cmp "$MG_TMP/f one" "$MG_TMP/f three" || die "get changed the file"
}

@test "ssh hop: -l, -p, -F reach the first ssh hop; rsync with user@" {
    need_sshd
    run_mg_sep fakessh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" -l root 127.0.0.1 'id -un'
    assert "$output" == "root" "logged in through the private sshd"
    run_mg_sep fakessh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" root@ssh=127.0.0.1+local 'echo $((1+1))'
    assert "$output" == "2" "a path-safe chain behind the ssh hop"

    skip_if_no_program rsync
    make_tree "$MG_TMP/src"
    run_mg_sep rsync -a -e "fakessh -F $MG_SSH_CONFIG -p $MG_SSH_PORT" "$MG_TMP/src/" "root@127.0.0.1:$MG_TMP/dst/"
    diff -r "$MG_TMP/src" "$MG_TMP/dst" || die "rsync over ssh: trees differ"
}

# The pids under $1, depth first (by parent pid, nothing else matched).
function descendants() {
    local c
    for c in $(pgrep -P "$1"); do
        echo "$c"
        descendants "$c"
    done
}

@test "-N: runs nothing, holds the chain until stopped: SIGTERM 0, SIGINT 255, as ssh" {
    # bash makes background jobs ignore SIGINT: restore it.
    env --default-signal=INT fakessh -N local "touch $MG_TMP/ran" 2>"$MG_TMP/err" 3>&- &
    local pid=$! kids= i rc=0
    for ((i = 0; i < 100; i++)); do
        [[ $(descendants "$pid" | xargs -r ps -o args= -p 2>/dev/null) == *"sleep 86400"* ]] && break
        sleep 0.1
    done
    kill -INT "$pid"
    wait "$pid" || rc=$?
    assert "$rc" == "255" "-N stopped by SIGINT: ssh's 255"

    fakessh -N local/local "touch $MG_TMP/ran" 2>"$MG_TMP/err" &
    pid=$!
    kids=
    for ((i = 0; i < 100; i++)); do
        kids=$(descendants "$pid")
        [[ $(ps -o args= -p "${kids//$'\n'/,}" 2>/dev/null) == *"sleep 86400"* ]] && break
        sleep 0.1
    done
    [[ -n $kids ]] || die "no chain under fakessh -N"
    sleep 0.3
    kill -0 "$pid" || die "fakessh -N ended by itself"
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    # ssh: no remote status, and the end was asked for here.
    assert "$rc" == "0" "-N stopped by SIGTERM: 0, as ssh"
    [[ ! -e $MG_TMP/ran ]] || die "the command ran under -N"
    for ((i = 0; i < 50; i++)); do
        ps -o pid= -p "${kids//$'\n'/,}" >/dev/null || break
        sleep 0.1
    done
    ! ps -o pid=,args= -p "${kids//$'\n'/,}" || die "processes left at the far end"
    # A chain that cannot be set up: at once, 255, the hop named.
    run_mg_sep 255 fakessh -N 'local/docker:x?docker_path=%2Fnonexistent'
    assert "$stderr" =~ "local/docker:x.*nonexistent" "the failing hop"
}

@test "-tt and RequestTTY=force: a terminal at the far end without one here" {
    run_mg_sep fakessh -tt local tty </dev/null
    assert "$output" =~ "^/dev/pts/" "-tt forced a pty"
    assert "$stderr" == $'Connection to local closed.\r' "no warning; ssh's last line after a terminal"
    run_mg_sep fakessh -q -tt local true </dev/null
    assert "$stderr" == "" "-q: not even that"
    run_mg_sep fakessh -o RequestTTY=force local tty </dev/null
    assert "$output" =~ "^/dev/pts/" "RequestTTY=force"
    # -T beats -tt; RequestTTY=no and =yes as -T and -t.
    run_mg_sep 1 fakessh -tt -T local tty </dev/null
    run_mg_sep 1 fakessh -o RequestTTY=no local tty </dev/null
    run_mg_sep 1 fakessh -o RequestTTY=yes local tty </dev/null
    assert "$stderr" =~ "Pseudo-terminal will not be allocated" "as -t: ssh's warning"
}

@test "-o RemoteCommand runs when there is no COMMAND; both: ssh's refusal" {
    run_mg_sep fakessh -o 'RemoteCommand=echo $((2+2))' local
    assert "$output" == "4" "RemoteCommand ran"
    run_mg_sep fakessh -o RemoteCommand=none local echo x
    assert "$output" == "x" "none: no remote command"
    run_mg_sep 255 fakessh -o 'RemoteCommand=echo a' local echo b
    assert "$stderr" == "fakessh: Cannot execute command-line and remote command." "ssh's words"
    assert "$output" == "" "nothing ran"
}

@test "SendEnv and SetEnv set the far command's environment (ssh hop)" {
    need_sshd
    local ssh=(fakessh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" root@127.0.0.1)
    local show='printf "%s|" "${FOO_A-unset}" "${FOO_B-unset}" "${BAR-unset}" "${NEW-unset}" "${OTHER-unset}"'
    export FOO_A=$'x y\'$(touch pwned)\n' FOO_B=2 BAR=3 OTHER=o
    run_mg_sep "${ssh[@]}" "$show"
    assert "$output" == "unset|unset|unset|unset|unset|" "nothing is sent unasked"
    run_mg_sep "${ssh[@]}" -o 'SendEnv=FOO_* BAR' -o 'SetEnv=BAR="set value" NEW=$(x)' "$show"
    assert "$output" == $'x y\'$(touch pwned)\n|2|set value|$(x)|unset|' "sent, SetEnv wins, bytes kept"
    run_mg_sep "${ssh[@]}" -o 'SendEnv=FOO_A FOO_B' -o 'SendEnv=-*_B' "$show"
    assert "$output" == $'x y\'$(touch pwned)\n|unset|unset|unset|unset|' "-PATTERN took FOO_B out"
    TERM=vt220 run_mg_sep "${ssh[@]}" -tt 'echo $TERM' </dev/null
    assert "$output" == $'vt220\r' "TERM goes with a terminal"
    [[ ! -e pwned && ! -e ~/pwned ]] || die "a value ran as a command"
    run_mg_sep 255 fakessh -o SetEnv=novalue local true
    assert "$stderr" =~ "Invalid SetEnv 'novalue'" "a SetEnv word without ="
}

@test "-Q and -O are the local ssh's answers; a bad -W and a bare -f are refused, nothing run" {
    # -Q: what the first ssh hop's ssh supports, as it says it.
    run_mg_sep fakessh -Q cipher
    assert "$output" == "$(ssh -Q cipher)" "ssh's own list"
    run_mg_sep 255 fakessh -Q no-such-query
    assert "$stderr" =~ "no-such-query" "ssh's own refusal"
    # -O without an ssh hop: no master to ask, as ssh without ControlPath.
    run_mg_sep 255 fakessh -O check local
    assert "$stderr" == "fakessh: -O check: no ssh hop in local, so no control master" "-O"
    # -W never runs the command (ssh ignores it); a bad spec is refused.
    run_mg_sep 255 fakessh -W 127.0.0.1 local "touch $MG_TMP/ran"
    assert "$stderr" == "fakessh: Bad stdio forwarding specification '127.0.0.1'" "-W without a port"
    run_mg_sep 255 fakessh -W 127.0.0.1:1 local "touch $MG_TMP/ran"
    assert "$stderr" =~ "connect to host 127.0.0.1 port 1: " "-W to a closed port: 255, told"
    run_mg_sep 255 fakessh -f local </dev/null
    assert "$stderr" == "fakessh: Cannot fork into background without a command to execute." "ssh's words"
    [[ ! -e $MG_TMP/ran ]] || die "a refused command line ran its command"
}

@test "-f: the chain set up in front, then the command in the background, stdin /dev/null, as ssh -f" {
    local fifo=$MG_TMP/go out=$MG_TMP/out rc=0 i
    mkfifo "$fifo"
    # The command waits for us: were fakessh still in front, it would
    # not return before we write to the fifo.
    echo fed | timeout "$(mg_secs 30)" fakessh -f local \
        "cat; ps -o sid= -p \$(ps -o ppid= -p \$PPID) >'$out.sid'; read w <'$fifo'; echo \$w >>'$out'" \
        >"$MG_TMP/o" 2>"$MG_TMP/e" || rc=$?
    assert "$rc" == "0" "back in front once the chain is up: $(cat "$MG_TMP/e")"
    [[ ! -e $out ]] || die "the command had ended before fakessh -f returned"
    echo go >"$fifo"
    for ((i = 0; i < 100; i++)); do
        [[ -s $out ]] && break
        sleep 0.1
    done
    assert "$(cat "$out")" == "go" "the command went on in the background"
    assert "$(cat "$MG_TMP/o")" == "" "-f implies -n: stdin was /dev/null"
    # Its fakessh (the far shell's parent's parent here) left our session.
    local sid
    read -r sid <"$out.sid"
    [[ -n $sid && $sid != "$(ps -o sid= -p $$ | tr -d ' ')" ]] || die "still in the test's session: $sid"
    # A chain that cannot be set up: told in front, ssh's 255.
    run_mg_sep 255 fakessh -f 'local/docker:x?docker_path=%2Fnonexistent' true
    assert "$stderr" =~ "^fakessh: local/docker:x.*nonexistent" "the failing hop, in front"
}

@test "-M -S reach the first hop's ssh: a control master that -O check, a second fakessh and -O exit use" {
    need_sshd
    local cm=$MG_TMP/cm ssh=(fakessh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT")
    "${ssh[@]}" -M -S "$cm" -N root@127.0.0.1 2>"$MG_TMP/err" &
    local pid=$! i
    for ((i = 0; i < $(mg_secs 100); i++)); do
        [[ -S $cm ]] && break
        sleep 0.1
    done
    [[ -S $cm ]] || die "no control socket from the hop's ssh"
    run_mg_sep "${ssh[@]}" -S "$cm" -O check root@127.0.0.1
    assert "$stderr" =~ "^Master running" "ssh's answer"
    # A plain ssh through the master: the hop's ssh is a real one.
    run_mg_sep ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" -S "$cm" root@127.0.0.1 echo muxed
    assert "$output" == "muxed" "a session over the master"
    run_mg_sep "${ssh[@]}" -S "$cm" -O exit root@127.0.0.1
    local rc=0
    wait "$pid" || rc=$?
    assert "$rc" == "255" "-N ends with 255 when its hop goes"
    run_mg_sep 255 "${ssh[@]}" -S "$cm" -O check root@127.0.0.1
    assert "$stderr" =~ "No such file or directory" "no master any more"
}

@test "fakessh linked as ssh first in PATH: its ssh hops run the real ssh, no recursion" {
    need_sshd
    skip_if_no_program unshare
    mkdir "$MG_TMP/bin"
    ln -s "$(command -v fakessh)" "$MG_TMP/bin/ssh"
    # In a pid namespace of its own: were each hop's ssh fakessh again,
    # the timeout would end all of them with the namespace.
    run_mg_sep timeout "$(mg_secs 60)" unshare --fork --pid --kill-child env PATH="$MG_TMP/bin:$PATH" \
        ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" root@ssh=127.0.0.1+sudo=root 'echo $(id -un) ok'
    assert "$output" == "root ok" "through the real ssh"
    MITOGEN_PERSIST=10s run_mg_sep timeout "$(mg_secs 60)" unshare --fork --pid --kill-child \
        env PATH="$MG_TMP/bin:$PATH" ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" root@127.0.0.1 'echo held'
    assert "$output" == "held" "from the persist holder too"
}

@test "fakessh copied as ssh first in PATH (not a link): no recursion, through copies in turn" {
    need_sshd
    skip_if_no_program unshare
    local fake d lib
    fake=$(readlink -f "$(command -v fakessh)")
    lib=$(dirname "$(dirname "$fake")")/lib
    for d in c1 c2; do
        mkdir -p "$MG_TMP/$d/bin"
        cp "$fake" "$MG_TMP/$d/bin/ssh"
        # A build tree's fakessh finds its library at $ORIGIN/../lib.
        [[ ! -d $lib ]] || ln -s "$lib" "$MG_TMP/$d/lib"
    done
    # Another file than the fakessh that starts the hop: the parent test
    # alone took it for the user's ssh, and each hop started one more.
    run_mg_sep timeout "$(mg_secs 60)" unshare --fork --pid --kill-child env PATH="$MG_TMP/c1/bin:$PATH" \
        fakessh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" root@ssh=127.0.0.1+sudo=root 'echo $(id -un) ok'
    assert "$output" == "root ok" "fakessh's hop ran the real ssh, not the copy"
    # The copy as the user's ssh, a second copy behind it: each hands over
    # past the copies, never back to one.
    run_mg_sep timeout "$(mg_secs 60)" unshare --fork --pid --kill-child \
        env PATH="$MG_TMP/c1/bin:$MG_TMP/c2/bin:$PATH" \
        ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" root@127.0.0.1 'echo copied'
    assert "$output" == "copied" "through the real ssh"
}

@test "DEST as a bare IPv6 address, as ssh and rsync pass it; -P TAG as -o Tag" {
    run_mg_sep fakessh -G ::1
    assert "${lines[2]}" == "hostname ::1" "the address"
    assert "${lines[-1]}" == "chain ssh:[::1]" "one ssh hop"
    run_mg_sep fakessh -G -p 2222 bob@fe80::1
    assert "${lines[1]}" == "user bob" "user@ before an address"
    assert "${lines[2]}" == "hostname fe80::1" "the address"
    assert "${lines[3]}" == "port 2222" "its port"
    run_mg_sep 255 fakessh 'a::b::c' true
    assert "$stderr" =~ "bad destination 'a::b::c'" "not an address: a chain, and a bad one"
    local chain
    # An ssh older than 9.4 refuses Tag: -G without one to ask.
    run_mg_sep env PATH="$MG_BUILD_DIR/cmd" fakessh -G -P mytag web1
    chain=$(sed -n 's/^chain //p' <<<"$output")
    run_mg_sep mitogen-run --dry-run "$chain" true
    assert "${lines[0]}" =~ " -o Tag=mytag " "ssh 9.4's -P, spelt for any ssh"
}

# Wait up to 10 s for file $1 to hold something.
function wait_file() {
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -s $1 ]] && return 0
        sleep 0.1
    done
    die "$1 never came"
}

@test "signals: INT, TERM, HUP end the far command, 255 as ssh; ignored at the start (nohup), they stay ignored" {
    local sig pid far rc i
    for sig in INT TERM HUP; do
        rm -f "$MG_TMP/far"
        # bash makes background jobs ignore SIGINT: restore them.
        env --default-signal=INT,TERM,HUP fakessh local "echo \$\$ >$MG_TMP/far; exec sleep 30" \
            </dev/null >"$MG_TMP/out" 2>"$MG_TMP/err" 3>&- &
        pid=$!
        wait_file "$MG_TMP/far"
        far=$(<"$MG_TMP/far")
        kill -"$sig" "$pid"
        rc=0
        wait "$pid" || rc=$?
        assert "$rc" -eq 255 "SIG$sig: ssh's 255"
        for ((i = 0; i < 100; i++)); do
            kill -0 "$far" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$far" 2>/dev/null && die "SIG$sig: the far command $far still runs"
    done
    # As under nohup: ssh keeps ignoring what its caller ignored.
    rm -f "$MG_TMP/far"
    (trap '' INT HUP; exec fakessh local "echo up >$MG_TMP/far; sleep 1; echo done") \
        </dev/null >"$MG_TMP/out" 2>"$MG_TMP/err" 3>&- &
    pid=$!
    wait_file "$MG_TMP/far"
    kill -HUP "$pid"
    kill -INT "$pid"
    rc=0
    wait "$pid" || rc=$?
    assert "$rc" -eq 0 "ignored SIGHUP and SIGINT: the command ran to its end"
    assert "$(<"$MG_TMP/out")" == "done" "its output"
}

@test "the command, a login and sftp start in the far user's home, as sshd starts them" {
    skip_if_no_program sudo
    local home nobody
    home=$(getent passwd "$(id -un)" | cut -d: -f6)
    nobody=$(getent passwd nobody | cut -d: -f6)
    [[ -n $nobody && -d $nobody ]] || nobody=/
    cd "$MG_TMP"
    run_mg_sep fakessh local pwd
    assert "$output" == "$home" "local: our home, not our directory"
    run_mg_sep fakessh local/sudo:nobody pwd
    assert "$output" == "$nobody" "sudo:nobody: its home, or / as sshd when there is none"
    run_mg_sep fakessh -T local < <(echo pwd)
    assert "$output" == "$home" "a login too"
    skip_if_no_program sftp
    run_mg_sep sftp -q -S fakessh -b - local < <(echo pwd)
    assert "$output" =~ "Remote working directory: $home" "sftp: home"
}

@test "-o LogLevel: QUIET and FATAL as -q, ERROR without ssh's notes, DEBUG as -v; -q and -v win" {
    local bad='local/docker:x?docker_path=%2Fnonexistent' l
    for l in QUIET fatal; do
        run_mg_sep 255 fakessh -o LogLevel=$l "$bad" true
        assert "$stderr" == "" "LogLevel=$l: silent, as ssh"
    done
    run_mg_sep 255 fakessh -o LogLevel=ERROR "$bad" true
    assert "$stderr" =~ "^fakessh: local/docker:x" "ERROR: errors still told"
    run_mg_sep fakessh -o LogLevel=ERROR -tt local true </dev/null
    assert "$stderr" == "" "ERROR: no 'Connection to local closed.'"
    run_mg_sep 1 fakessh -o LogLevel=error -t local tty </dev/null
    assert "$stderr" == "" "ERROR: no pseudo-terminal warning"
    run_mg_sep fakessh -o LogLevel=DEBUG local true
    assert "$stderr" =~ "agent up" "DEBUG: as -v"
    run_mg_sep fakessh -v -o LogLevel=QUIET local true
    assert "$stderr" =~ "agent up" "-v wins"
    run_mg_sep 255 fakessh -o LogLevel=bogus local true
    assert "$stderr" == "fakessh: unsupported LogLevel value 'bogus'" "a bad value"
}

@test "-W HOST:PORT forwards stdio from the chain's end: ssh's ProxyCommand through a chain" {
    need_sshd
    # The raw stream: sshd's banner first, nothing of a shell.
    run_mg_sep fakessh -W "127.0.0.1:$MG_SSH_PORT" local </dev/null
    assert "${lines[0]}" =~ "^SSH-2.0-" "sshd's banner, raw"
    # A real ssh over it, from the end of local/sudo:nobody, both ways.
    head -c 3000000 /dev/urandom >"$MG_TMP/blob"
    ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" \
        -o "ProxyCommand=fakessh -W [%h]:%p local/sudo:nobody" root@127.0.0.1 'cat; echo done >&2' \
        <"$MG_TMP/blob" >"$MG_TMP/copy" 2>"$MG_TMP/err" || die "ssh over fakessh -W failed: $(<"$MG_TMP/err")"
    cmp "$MG_TMP/blob" "$MG_TMP/copy" || die "the bytes differ"
    assert "$(<"$MG_TMP/err")" == "done" "the far command's stderr"
    # Through an ssh hop: the TCP connection starts at its end.
    run_mg_sep ssh -F "$MG_SSH_CONFIG" -p "$MG_SSH_PORT" \
        -o "ProxyCommand=fakessh -F $MG_SSH_CONFIG -p $MG_SSH_PORT -W %h:%p root@127.0.0.1" root@127.0.0.1 'echo hopped'
    assert "$output" == "hopped" "ssh through fakessh -W through an ssh hop"
}
