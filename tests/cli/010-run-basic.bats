#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# mitogen-run over local hops: what runs, with which argv, which exit
# status comes back, and how the three standard streams travel.

load helpers

# The agent image this build pushes (helpers.bash sets MITOGEN_AGENT).
function agent_path() {
    printf '%s\n' "${MITOGEN_AGENT:-$MG_BUILD_DIR/cmd/mitogen-agent}"
}

# A chain of N local hops: local/local/...
function local_chain() {
    local n=$1 chain=local
    while ((--n > 0)); do
        chain+=/local
    done
    printf '%s\n' "$chain"
}

@test "mitogen-run local -- uname -a: same as here" {
    local expect
    expect=$(uname -a)
    run_mg_sep mitogen-run local -- uname -a
    assert "$output" == "$expect" "uname -a through one local hop"
    assert "$stderr" == "" "nothing on stderr"
}

@test "one COMMAND word runs through the login shell's -c" {
    run_mg_sep mitogen-run local 'echo $((6*7))'
    assert "$output" == "42" "arithmetic expansion done by the remote shell"
    assert "$stderr" == "" "nothing on stderr"

    # Pipes, redirections and ; belong to the remote shell too.
    run_mg_sep mitogen-run local -- 'printf "a\nb\n" | wc -l; echo to-err >&2'
    assert "$output" == "2" "remote pipe"
    assert "$stderr" == "to-err" "remote redirection to stderr"

    # The remote shell is the login shell, named as sshd names it: $0
    # says so (060-like-ssh.bats has the rest); --sh forces /bin/sh.
    local sh
    sh=$(getent passwd "$(id -un)" | cut -d: -f7)
    grep -qx -- "$sh" /etc/shells || sh=/bin/sh
    run_mg mitogen-run local 'echo "$0"'
    assert "$output" == "${sh##*/}" "\$0 of the remote shell: ${sh##*/}"
    run_mg mitogen-run --sh local 'echo "$0"'
    assert "$output" == "sh" "\$0 with --sh"
}

@test "two or more words: an exact argv, byte for byte" {
    local -a args=(
        'two words'
        "it's \"quoted\""
        '$(echo substituted) `echo too` $HOME'
        $'line one\nline two'
        $'non-UTF-8: \xff\xfe\x80 end'
        ''
        '*'
        '-n'
        '  leading and trailing  '
        '\back\slash'
    )
    local script='for a; do printf "[%s]" "$a"; done'

    sh -c "$script" x "${args[@]}" >"$MG_TMP/expected"
    run_mg_sep mitogen-run local -- sh -c "$script" x "${args[@]}"
    assert "$stderr" == "" "nothing on stderr"
    run cmp "$MG_TMP/expected" "$MG_STDOUT_FILE"
    assert "$status" -eq 0 "argv arrives byte-exact (cmp: $output)"
    assert "$output" == "" "cmp is silent"

    # Readable too: the first few arguments as text.
    run_mg mitogen-run local -- sh -c "$script" x "${args[@]:0:3}"
    assert "$output" == "[two words][it's \"quoted\"][\$(echo substituted) \`echo too\` \$HOME]" \
        "arguments with blanks, quotes and \$() are not interpreted"

    # Without a shell, two words are never joined: echo sees one argument.
    run_mg mitogen-run local echo '$((6*7))'
    assert "$output" == '$((6*7))' "two words: no shell expansion"
}

@test "--shell and --no-shell force the choice" {
    # --shell joins the words with spaces and hands them to the shell's -c.
    run_mg mitogen-run --shell local echo '$((6*7))' "a   b"
    assert "$output" == "42 a b" "--shell: words joined, expanded and split by sh"

    # --no-shell runs a single word as a program.
    run_mg mitogen-run --no-shell local -- uname
    assert "$output" == "$(uname)" "--no-shell with one word runs the program"

    # ...so a shell command line is just a (missing) program name.
    run_mg_sep 127 mitogen-run --no-shell local 'echo $((6*7))'
    assert "$output" == "" "--no-shell: no shell ran the words"
    assert "$stderr" =~ "command not found" "--no-shell: the whole word is a program name"

    run_mg_sep 2 mitogen-run --shell --no-shell local true
    assert "$stderr" =~ "^mitogen-run: " "--shell with --no-shell is a usage error"
}

@test "exit status of the remote command comes back" {
    local n
    for n in 0 1 3 100 255; do
        run_mg_sep "$n" mitogen-run local "exit $n"
        assert "$output" == "" "exit $n: nothing on stdout"
        assert "$stderr" == "" "exit $n: nothing on stderr"
    done
    # The same without a shell in between, and through two hops.
    run_mg 3 mitogen-run local -- sh -c 'exit 3'
    run_mg 255 mitogen-run local/local -- sh -c 'exit 255'
    run_mg 0 mitogen-run local/local -- true
    run_mg 1 mitogen-run local/local -- false
}

@test "killed by a signal: exit status 128+N" {
    run_mg_sep 143 mitogen-run local 'kill -TERM $$'
    assert "$stderr" == "" "SIGTERM: no error of mitogen-run"
    run_mg_sep 137 mitogen-run local 'kill -KILL $$'
    assert "$stderr" == "" "SIGKILL: no error of mitogen-run"
    run_mg 130 mitogen-run local/local -- sh -c 'kill -INT $$'
    run_mg 134 mitogen-run local/local -- sh -c 'kill -ABRT $$'
}

@test "stdout and stderr stay apart" {
    run_mg_sep mitogen-run local 'echo out1; echo err1 >&2; echo out2; echo err2 >&2'
    assert "$output" == $'out1\nout2' "stdout has the stdout lines only"
    assert "$stderr" == $'err1\nerr2' "stderr has the stderr lines only"

    run_mg_sep mitogen-run local/local -- sh -c 'echo only-err >&2'
    assert "$output" == "" "stderr-only command: empty stdout"
    assert "$stderr" == "only-err" "stderr-only command, two hops"
}

@test "stdin to stdout round trip is binary-safe (4 MiB through local/local)" {
    head -c $((4 * 1024 * 1024 + 12345)) /dev/urandom >"$MG_TMP/in"
    run_mg_sep mitogen-run local/local -- cat <"$MG_TMP/in"
    assert "$stderr" == "" "nothing on stderr"
    run cmp "$MG_TMP/in" "$MG_STDOUT_FILE"
    assert "$status" -eq 0 "cat through two hops returns the same bytes (cmp: $output)"
}

@test "stdin end of file reaches the command" {
    head -c 123457 /dev/urandom >"$MG_TMP/in"
    run_mg mitogen-run local -- wc -c <"$MG_TMP/in"
    assert "$output" == "123457" "wc -c counts every byte and then sees EOF"

    run_mg mitogen-run local/local -- wc -c </dev/null
    assert "$output" == "0" "empty stdin: immediate EOF"

    printf 'no newline at the end' >"$MG_TMP/in"
    run_mg mitogen-run local 'cat; echo "<EOF>"' <"$MG_TMP/in"
    assert "$output" == "no newline at the end<EOF>" "a partial last line, then EOF"
}

@test "a closed stdin, stdout or stderr: the command finds /dev/null there, as with ssh" {
    # ssh opens /dev/null on a closed 0, 1 or 2 before anything else can
    # take the number; a descriptor of our own there (an epoll, a socket)
    # gave cat 'Invalid argument' and echo 'I/O error'.
    local c rc
    for c in local local/local --relay-stdio; do
        local -a chain=("$c")
        [[ $c != --relay-stdio ]] || chain=(--relay-stdio local)
        rc=0
        timeout "$(mg_secs 20)" mitogen-run "${chain[@]}" -- sh -c 'wc -c; echo "st=$?"' \
            <&- >"$MG_TMP/out" 2>"$MG_TMP/err" || rc=$?
        assert "$rc" -eq 0 "$c, stdin closed: status"
        assert "$(cat "$MG_TMP/out")" == $'0\nst=0' "$c, stdin closed: end of file at once"
        assert "$(cat "$MG_TMP/err")" == "" "$c, stdin closed: nothing on stderr"
        rc=0
        timeout "$(mg_secs 20)" mitogen-run "${chain[@]}" -- sh -c 'echo out; echo "st=$?" >&2' \
            </dev/null >&- 2>"$MG_TMP/err" || rc=$?
        assert "$rc" -eq 0 "$c, stdout closed: status"
        assert "$(cat "$MG_TMP/err")" == "st=0" "$c, stdout closed: the write goes nowhere, no error"
        rc=0
        timeout "$(mg_secs 20)" mitogen-run "${chain[@]}" -- sh -c 'echo err >&2; echo "st=$?"' \
            </dev/null >"$MG_TMP/out" 2>&- || rc=$?
        assert "$rc" -eq 0 "$c, stderr closed: status"
        assert "$(cat "$MG_TMP/out")" == "st=0" "$c, stderr closed: the write goes nowhere, no error"
    done
}

@test "-n: /dev/null as stdin even when stdin stays open" {
    # A FIFO opened read-write never reaches EOF: we hold its write end.
    mkfifo "$MG_TMP/fifo"
    exec 5<>"$MG_TMP/fifo"

    MG_TIMEOUT=5 run_mg_sep mitogen-run -n local cat <&5
    assert "$output" == "" "-n: cat reads nothing"
    MG_TIMEOUT=5 run_mg mitogen-run --null-stdin local/local -- wc -c <&5
    assert "$output" == "0" "--null-stdin: immediate EOF through two hops"

    # -n leaves the stdin of mitogen-run alone, for 'while read' loops.
    printf 'line1\nline2\n' >"$MG_TMP/in"
    run_mg bash -c 'while read -r l; do mitogen-run -n local "echo remote-$l"; done' <"$MG_TMP/in"
    assert "$output" == $'remote-line1\nremote-line2' "-n: mitogen-run reads none of its stdin"

    # Without -n, the same cat waits for input: the check above means something.
    run_mg 124 timeout 2 mitogen-run local cat <&5
    exec 5>&-
}

@test "chains of depth 1, 2, 3 and 5: the command runs below one agent per hop" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the holder numbers the contexts"
    # Print the comm of the parent, then count mitogen:* processes among
    # the ancestors of the command.
    local script='cat /proc/$PPID/comm
n=0 p=$PPID
while [ "$p" -gt 1 ]; do
    case $(cat /proc/$p/comm) in mitogen:*) n=$((n+1)) ;; esac
    p=$(sed -n "s/^PPid:[[:space:]]*//p" /proc/$p/status)
done
echo "$n"'
    local depth chain
    for depth in 1 2 3 5; do
        chain=$(local_chain "$depth")
        run_mg_sep mitogen-run "$chain" "$script"
        assert "$stderr" == "" "$chain: nothing on stderr"
        assert "${lines[0]:-}" == "mitogen:$depth" "$chain: the parent of the command is agent $depth"
        assert "${lines[1]:-}" == "$depth" "$chain: agents among the ancestors"
    done
}

@test "--dry-run prints one line per hop and runs nothing" {
    local size
    size=$(stat -c %s "$(agent_path)")

    # local execs the agent in place; first_stage=1 pushes it through sh.
    run_mg_sep mitogen-run --dry-run 'local/local?first_stage=1' "touch $MG_TMP/ran"
    assert "$stderr" == "" "--dry-run: nothing on stderr"
    assert "${#lines[@]}" -eq 2 "--dry-run: one line per hop"
    assert "${lines[0]}" == "local: $(agent_in_place)" "hop 1: its name, then the agent exec'd in place"
    local re="/bin/sh -c '.*' mitogen-boot $size [0-9a-zA-Z]+\$"
    assert "${lines[1]}" =~ "^local/local\?first_stage=1: $re" "hop 2: its name, then the first stage argv"
    assert "${lines[1]}" =~ "mitogen-agent" "the first stage names the temp file"
    if [[ -e $MG_TMP/ran ]]; then
        die "--dry-run ran the command"
    fi

    run_mg mitogen-run --dry-run local
    assert "${#lines[@]}" -eq 1 "--dry-run local: one line"
}

@test "--dry-run local shows the agent a run execs: the exec-only one at a chain's end" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the holder starts the hops"
    local shown
    run_mg_sep mitogen-run --dry-run local true
    assert "${#lines[@]}" -eq 1 "one line"
    shown=${lines[0]#local: }
    shown=${shown%% *}
    # The command's parent is the agent: its program is what was exec'd.
    run_mg_sep mitogen-run local 'readlink /proc/$PPID/exe'
    assert "$output" == "$shown" "the run execs what --dry-run shows"
    local a=${MITOGEN_AGENT:-$MG_BUILD_DIR/cmd/mitogen-agent}
    if [[ -f $a-lite ]]; then
        assert "$shown" =~ "-lite(\.raw)?\$" "the exec-only agent"
    fi
    # A hop after it: the whole agent, in the dry run as in the run.
    run_mg_sep mitogen-run --dry-run local/local true
    assert "${lines[0]}" == "local: $(agent_in_place)" "local with a hop after it: the whole agent"
}

@test "-v logs each hop's progress on stderr" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the holder connects and logs the hops"
    run_mg_sep mitogen-run -v local/local 'echo hello'
    assert "$output" == "hello" "-v does not touch stdout"
    assert "$stderr" =~ "local: agent up" "-v: hop 1 reported up"
    assert "$stderr" =~ "local/local: agent up" "-v: hop 2 reported up"

    run_mg_sep mitogen-run local/local 'echo hello'
    assert "$stderr" == "" "without -v: silent"
}

@test "large output arrives complete (50 MiB)" {
    local n=52428800
    run_mg_sep mitogen-run local -- head -c "$n" /dev/zero
    assert "$stderr" == "" "nothing on stderr"
    assert "$(stat -c %s "$MG_STDOUT_FILE")" -eq "$n" "bytes received"
    assert "$(tr -d '\000' <"$MG_STDOUT_FILE" | wc -c)" -eq 0 "all of them zero"

    # Both streams at once, through two hops, counted at the far side of
    # a pipe so nothing is buffered in the test.
    run_mg bash -c "mitogen-run local/local 'head -c $n /dev/zero; head -c 1048576 /dev/zero >&2' 2>$MG_TMP/err | wc -c"
    assert "$output" == "$n" "stdout bytes through local/local"
    assert "$(stat -c %s "$MG_TMP/err")" -eq 1048576 "stderr bytes through local/local"
}

# vim: filetype=sh

@test "more than 65,536 words run as given, through each agent" {
    # Linux execs them; every agent's EXEC decoder once refused them as
    # "malformed". The docker stand-in boots the leaf agent; local the
    # exec-only one; local/local has the whole agent in the middle. The
    # stand-in by its path: a persist holder (845) has its own PATH.
    unset MG_STUB_LOG MG_STUB_FAIL MG_STUB_FAIL_STUB
    local chain want stub=$MG_SRC_DIR/tests/stubs/docker
    # shellcheck disable=SC2046 # one word per number, on purpose
    want=$(echo $(seq 1 70000) | md5sum)
    for chain in local local/local "docker:c1?docker_path=${stub//\//%2F}"; do
        # The words made by sh: a failure's log shows one short line.
        # shellcheck disable=SC2016
        run_mg_sep sh -c 'exec mitogen-run "$1" -- echo $(seq 1 70000)' sh "$chain"
        assert "$(md5sum <<<"$output")" == "$want" "$chain: 70,000 words echoed back"
        assert "$stderr" == "" "$chain: nothing on stderr"
    done
}
