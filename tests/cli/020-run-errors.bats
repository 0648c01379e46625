#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# mitogen-run when things go wrong: usage errors, missing commands, lost
# agents, and hostile or broken agents (tests/stubs/agent-*), which must
# end in a prompt, precise error and leave nothing behind.

load helpers
load sshd # mg_pct

function setup() {
    basic_setup
    # The first stage puts the agent image in $TMPDIR: a private one per
    # test, to check that nothing is left there.
    export TMPDIR=$MG_TMP/tmpdir
    mkdir "$TMPDIR"
    STUBS=$MG_SRC_DIR/tests/stubs
    # Every stub sleeps this long (a unique number) once it is "up", so
    # that a left-over stub can be found and cleaned up.
    MG_STUB_SLEEP=30.$RANDOM$RANDOM
    export MG_STUB_SLEEP
    KILL_AT_TEARDOWN=()
}

function teardown() {
    local pid
    remember_procs "sleep $MG_STUB_SLEEP"
    for pid in "${KILL_AT_TEARDOWN[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    basic_teardown
}

# Add the live processes whose command line is exactly $1 to those
# teardown kills (by pid).
function remember_procs() {
    local pid
    for pid in $(live_procs "$1"); do
        KILL_AT_TEARDOWN+=("$pid")
    done
}

# Names in $TMPDIR (there must be none once mitogen-run is done).
function tmpdir_leftovers() {
    command ls -A "$TMPDIR"
}

@test "unknown method: exit 2, column and suggestion" {
    run_mg_sep 2 mitogen-run lcoal true
    assert "$output" == "" "nothing on stdout"
    assert "${#stderr_lines[@]}" -eq 1 "a one-line hint"
    assert "$stderr" =~ "^mitogen-run: " "the hint starts with the program name"
    assert "$stderr" =~ "'lcoal'" "the hint quotes the chain or the method"
    assert "$stderr" =~ "column 1" "the hint names the column"
    assert "$stderr" =~ "did you mean 'local'" "the hint suggests local"

    # The same deeper in the chain.
    run_mg_sep 2 mitogen-run local/lcoal true
    assert "$stderr" =~ "column 7" "second hop: column 7"
    assert "$stderr" =~ "did you mean 'local'" "second hop: suggestion"
}

@test "malformed chains: exit 2 with the column" {
    local -A column=(
        ['local/']=6
        ['local//local']=7
        ['local:x']=7
        ['local?foo=1']=7
    )
    local chain
    for chain in "${!column[@]}"; do
        run_mg_sep 2 mitogen-run "$chain" true
        assert "$output" == "" "$chain: nothing on stdout"
        assert "${#stderr_lines[@]}" -eq 1 "$chain: a one-line hint"
        assert "$stderr" =~ "^mitogen-run: chain '" "$chain: the hint quotes the chain"
        assert "$stderr" =~ "column ${column[$chain]}:" "$chain: the hint names the column"
    done
    # Nothing was started for a chain that does not parse.
    assert "$(tmpdir_leftovers)" == "" "nothing in TMPDIR"
}

@test "a bad option value: exit 2 with its column, before any target or hop starts" {
    # The first target would run, were the second not checked at once.
    run_mg_sep 2 mitogen-run -w 'local,local?debug=2' "touch $MG_TMP/ran"
    assert "$output" == "" "nothing on stdout"
    assert "${#stderr_lines[@]}" -eq 1 "a one-line hint"
    assert "$stderr" =~ "^mitogen-run: chain 'local,local\\?debug=2': column 13: option debug: expected yes or no, not '2'" \
        "the hint names the column and says what fits"
    [[ ! -e $MG_TMP/ran ]] || die "the first target ran before the second was refused"

    # A bad value on the second hop: the first (an ssh stand-in that
    # notes it was started) is never connected.
    printf '#!/bin/sh\necho started >>"%s"\nexit 1\n' "$MG_TMP/connected" >"$MG_TMP/fake-ssh"
    chmod +x "$MG_TMP/fake-ssh"
    local value bastion
    bastion="ssh:bastion?ssh_path=$(mg_pct "$MG_TMP/fake-ssh")"
    for value in connect_timeout=x keepalive_count=x check_host_keys=maybe ssh_args=%27x \
        compression=2 debug=2; do
        run_mg_sep 2 mitogen-run "$bastion/ssh:web?$value" true
        assert "$stderr" =~ "column $((${#bastion} + 10)): " "$value: the column of the option"
        assert "$stderr" !~ "write it %2F" "$value: no hint of a value cut at a '/'"
        assert "$stderr" =~ "${value%%=*}" "$value: the option named"
        [[ ! -e $MG_TMP/connected ]] || die "$value: the first hop was started"
    done
    run_mg_sep 2 mitogen-run "$bastion/sudo?sudo_path=" true
    assert "$stderr" =~ "option sudo_path: expected a path" "an empty path"
    assert "$(tmpdir_leftovers)" == "" "nothing in TMPDIR"
}

@test "no TARGET or no COMMAND: exit 2" {
    run_mg_sep 2 mitogen-run
    assert "$output" == "" "no arguments: nothing on stdout"
    assert "$stderr" =~ "^mitogen-run: .*TARGET" "no arguments: the hint says TARGET is missing"

    run_mg_sep 2 mitogen-run local
    assert "$stderr" =~ "^mitogen-run: .*COMMAND" "no command: the hint says COMMAND is missing"

    run_mg_sep 2 mitogen-run local --
    assert "$stderr" =~ "^mitogen-run: .*COMMAND" "only --: the hint says COMMAND is missing"

    run_mg_sep 2 mitogen-run -v
    assert "$stderr" =~ "^mitogen-run: " "only options: a hint"
}

@test "command not found: 127, with and without a shell" {
    local cmd
    cmd=nosuchcmd-$(safename)

    run_mg_sep 127 mitogen-run --no-shell local -- "$cmd"
    assert "$output" == "" "--no-shell: nothing on stdout"
    assert "$stderr" == "mitogen-run: local: $cmd: command not found" \
        "--no-shell: the error names the hop, the command and 'command not found'"

    run_mg_sep 127 mitogen-run local/local -- "$cmd" some args
    assert "$stderr" == "mitogen-run: local/local: $cmd: command not found" \
        "argv form through two hops: the error names the whole chain"

    # A shell reports it itself, and exits 127.
    run_mg_sep 127 mitogen-run local "$cmd"
    assert "$stderr" =~ "$cmd: .*not found" "shell form: the shell says it"
    run_mg_sep 127 mitogen-run local/local "$cmd --flag"
    assert "$stderr" =~ "$cmd: .*not found" "shell form, two hops"
}

@test "a file that is not executable: 126" {
    printf '#!/bin/sh\necho should not run\n' >"$MG_TMP/noexec"
    chmod 644 "$MG_TMP/noexec"

    run_mg_sep 126 mitogen-run --no-shell local -- "$MG_TMP/noexec"
    assert "$output" == "" "--no-shell: it did not run"
    assert "$stderr" =~ "^mitogen-run: local: $MG_TMP/noexec: " "--no-shell: the error names hop and file"
    assert "$stderr" =~ "[Pp]ermission denied" "--no-shell: the reason"

    run_mg_sep 126 mitogen-run local/local -- "$MG_TMP/noexec" arg
    assert "$stderr" =~ "^mitogen-run: local/local: " "argv form, two hops: the error names the chain"

    run_mg_sep 126 mitogen-run local "$MG_TMP/noexec"
    assert "$output" == "" "shell form: it did not run"
    assert "$stderr" =~ "[Pp]ermission denied" "shell form: the shell says why"

    # A directory cannot be executed either.
    run_mg_sep 126 mitogen-run --no-shell local -- "$MG_TMP"
}

@test "agent killed while the command runs: 255 at once, the hop named" {
    local t0 t1 sleeper="sleep 30.$RANDOM$RANDOM"
    t0=$(now_us)
    run_mg_sep 255 mitogen-run local/local -- sh -c "kill -9 \$PPID; $sleeper"
    t1=$(now_us)
    remember_procs "$sleeper"
    assert "$(((t1 - t0) / 1000))" -lt 15000 "milliseconds until mitogen-run gave up"
    assert "$stderr" =~ "^mitogen-run: local/local: " "the error names the lost hop"
    assert "$(tmpdir_leftovers)" == "" "nothing in TMPDIR"

    # The first hop is lost the same way.
    run_mg_sep 255 mitogen-run local -- sh -c "kill -9 \$PPID; $sleeper"
    remember_procs "$sleeper"
    assert "$stderr" =~ "^mitogen-run: local: " "the error names the lost hop"
}

@test "agent killed: its command gets SIGTERM to clean up, and SIGKILL if it ignores that" {
    # rsync, say, removes its temporary file on SIGTERM; SIGKILL (as the
    # parent agent sent at once) left it behind, and a first hop's agent
    # killed left it running once mitogen-run had gone.
    # mitogen-run is gone before it reaps a first hop's agent, mostly.
    check_agent_killed_leftovers local "$MG_TMP" 6
    check_agent_killed_leftovers local/local "$MG_TMP"
}

@test "MITOGEN_AGENT names no usable agent: 255, clear error" {
    MITOGEN_AGENT=$MG_TMP/no-such-agent run_mg_sep 255 mitogen-run local true
    assert "$output" == "" "nothing on stdout"
    assert "$stderr" =~ "^mitogen-run: " "an error of mitogen-run"
    assert "$stderr" =~ "$MG_TMP/no-such-agent" "the error names the path"
    assert "$stderr" =~ "MITOGEN_AGENT" "the error says where the path came from"
    assert "$stderr" =~ "No such file or directory" "the error says why"

    MITOGEN_AGENT=$MG_TMP run_mg_sep 255 mitogen-run local true
    assert "$stderr" =~ "$MG_TMP" "a directory: the error names the path"

    : >"$MG_TMP/empty"
    MITOGEN_AGENT=$MG_TMP/empty run_mg_sep 255 mitogen-run local true
    assert "$stderr" =~ "$MG_TMP/empty" "an empty file: the error names the path"
    assert "$(tmpdir_leftovers)" == "" "nothing in TMPDIR"
}

# Run mitogen-run with a stub agent: check_stub STUB EXPECTED_MAX_MS [OPTIONS]
# Sets $elapsed_ms. Checks exit 255, an empty stdout, a one-hop error on
# stderr, an empty TMPDIR and no stub left running.
function check_stub() {
    local stub=$1 max_ms=$2 t0 t1
    shift 2
    t0=$(now_us)
    MITOGEN_AGENT=$STUBS/$stub run_mg_sep 255 mitogen-run "$@" local true
    t1=$(now_us)
    elapsed_ms=$(((t1 - t0) / 1000))
    assert "$output" == "" "$stub: nothing on stdout"
    assert "$stderr" =~ "^mitogen-run: local: " "$stub: the error names the hop"
    assert "$elapsed_ms" -lt "$max_ms" "$stub: milliseconds until mitogen-run gave up"
    assert "$(tmpdir_leftovers)" == "" "$stub: nothing in TMPDIR"
    sleep 0.5
    assert "$(live_procs "sleep $MG_STUB_SLEEP")" == "" "$stub: the fake agent was killed"
}

@test "agent writes junk after MITO002: 255, corrupt" {
    check_stub agent-corrupt 5000
    assert "$stderr" =~ "corrupt" "the error says the stream is corrupt"
}

@test "agent sends a 4 GiB frame header: 255, too large" {
    check_stub agent-oversize 5000
    assert "$stderr" =~ "too large" "the error says the message is too large"
}

@test "agent never answers HELLO: -t 2 gives up with 'timed out'" {
    check_stub agent-silent 4000 -t 2
    assert "$stderr" =~ "timed out" "the error says it timed out"
    assert "$elapsed_ms" -ge 1900 "milliseconds: the timeout, not something else, ended it"
}

@test "agent fails before it is up: 255 with what it printed" {
    check_stub agent-exit 5000
    assert "$stderr" =~ "agent-exit stub: cannot frobnicate the widget \(deliberate failure\)" \
        "the error carries the hop's stderr"
    assert "$stderr" =~ "status 1" "the error gives the hop's exit status"
}

@test "stdout closed early: yes | head -1 ends at once with SIGPIPE status" {
    MG_TIMEOUT=5 run_mg bash -c 'mitogen-run local -- yes | head -1; echo "rc=${PIPESTATUS[0]}"'
    assert "$output" == $'y\nrc=141' "head gets one line; mitogen-run exits 141 (SIGPIPE)"

    MG_TIMEOUT=5 run_mg bash -c 'mitogen-run local/local yes | head -2; echo "rc=${PIPESTATUS[0]}"'
    assert "$output" == $'y\ny\nrc=141' "the same through two hops"
}

@test "one target, stdout or stderr that cannot be written (a full disk): said, status 255" {
    # The output was lost without a word and the status was the
    # command's: 0 for 'echo hi >/dev/full'. A device output is relayed
    # on every chain (545-stdio-pass.bats), so each goes the same way.
    local chain
    for chain in local local/local '--relay-stdio local'; do
        run_mg_sep 0 bash -c "mitogen-run $chain -- echo hi >/dev/full; echo rc=\$?"
        assert "$output" == "rc=255" "$chain: a short output lost, status 255"
        assert "$stderr" =~ "^mitogen-run: cannot write to the output \(fd 1\): No space left on device$" \
            "$chain: and says so"
        run_mg_sep 0 bash -c "mitogen-run $chain -- seq 1000000 >/dev/full; echo rc=\$?"
        assert "$output" == "rc=255" "$chain: a long output, status 255 (not the command's SIGPIPE)"
        assert "$stderr" =~ "cannot write to the output \(fd 1\)" "$chain: long output: says so"
        # Nowhere to say it: the status does.
        run_mg_sep 0 bash -c "mitogen-run $chain -- sh -c 'echo hi >&2' 2>/dev/full; echo rc=\$?"
        assert "$output" == "rc=255" "$chain: stderr lost, status 255"
    done
}

@test "the command stops reading stdin early: mitogen-run returns at once" {
    local t0 t1
    t0=$(now_us)
    MG_TIMEOUT=10 run_mg bash -c \
        'head -c 100000000 /dev/zero | mitogen-run local -- head -c 10 | wc -c; echo "rc=${PIPESTATUS[1]}"'
    t1=$(now_us)
    assert "$output" == $'10\nrc=0' "10 bytes, exit 0"
    assert "$(((t1 - t0) / 1000))" -lt 5000 "milliseconds for the pipeline"
}

@test "-t and -u: what is no number or does not fit in milliseconds is a usage error" {
    # Issue 12, defect 8: "-u 4294968" once wrapped to a 0.7 s limit.
    local opt v
    for v in '' ' ' ' 1' '+1' -1 nan inf 1e3 0x10 abc 1.5.5 . 0.0001 4294968 99999999999999999999; do
        run_mg_sep 2 mitogen-run -u "$v" local true
        assert "$output" == "" "-u '$v': nothing on stdout"
        assert "${#stderr_lines[@]}" -eq 1 "-u '$v': a one-line message"
        assert "$stderr" =~ "^mitogen-run: -u '.*': expected seconds, 0 \\(no limit\\) or from 0\\.001 to 4294967 \\(see" "-u '$v': says what fits"
    done
    for v in '' 0 0.0 -1 nan 1e3 86401 4294968; do
        run_mg_sep 2 mitogen-run -t "$v" local true
        assert "${#stderr_lines[@]}" -eq 1 "-t '$v': a one-line message"
        assert "$stderr" =~ "^mitogen-run: -t '.*': expected seconds, from 0\\.001 to 86400 \\(see" \
            "-t '$v': says what fits"
    done
    run_mg_sep 2 mitogen-exec -u 4294968 local /bin/true
    assert "$stderr" =~ "^mitogen-exec: -u '4294968'" "mitogen-exec: the same check"
    # The largest values that fit, and fractions, are taken.
    run_mg mitogen-run -u 4294967 -t 86400 local true
    run_mg mitogen-run --command-timeout=0.5 --connect-timeout=0.75 local true

    # A hop's connect_timeout= is refused as the chain is read (as every
    # value of a form that needs no far end is), at the option's column.
    for v in 1e3 0x10 inf nan 0.0001 86401 %201; do
        run_mg_sep 2 mitogen-run "local?connect_timeout=$v" true
        assert "$stderr" =~ "column 7: option connect_timeout: expected seconds" "connect_timeout=$v: refused"
    done
}

@test "-u with a fraction: the command is stopped after that time" {
    local t0 t1
    t0=$(now_us)
    run_mg_sep 124 mitogen-run -u 1.5 local -- sleep "$MG_STUB_SLEEP"
    t1=$(now_us)
    assert "$stderr" =~ "timed out after 1.5 s" "the message gives the limit"
    assert "$(((t1 - t0) / 1000))" -ge 1400 "milliseconds: not before the limit"
    assert "$(((t1 - t0) / 1000))" -lt 15000 "milliseconds: not long after it"
}

# Fail unless $stderr holds none of the bytes that drive a terminal.
function assert_no_raw_controls() {
    local what=$1
    if [[ $stderr == *$'\e'* || $stderr == *$'\a'* || $stderr == *$'\xff'* ]]; then
        die "$what: raw ESC, BEL or 0xff on stderr: $(printf '%s' "$stderr" | od -c | head -20)"
    fi
}

# Fail when a line of $stderr a far end wrote passes for one of ours.
function assert_no_forged_line() {
    local what=$1 line
    for line in "${stderr_lines[@]}"; do
        if [[ $line == "mitogen-run: all good"* ]]; then
            die "$what: a forged line on stderr: $line"
        fi
    done
}

@test "what a hop prints before its agent is up reaches the terminal escaped" {
    # Issue 12, defect 10: a title change, a screen clear, a forged
    # "mitogen-run: all good" line and a byte that is no UTF-8.
    MITOGEN_AGENT=$STUBS/hostile/agent-noise run_mg_sep 255 mitogen-run local true
    assert_no_raw_controls "one target"
    assert_no_forged_line "one target"
    assert "${stderr_lines[0]}" =~ "^mitogen-run: local: hop exited with status 1 before the agent was up; it printed:" \
        "the cause first"
    assert "$stderr" =~ '  \\x1b]0;pwned\\x07' "the title change, escaped and indented"
    assert "$stderr" =~ '  \\x1b\[2J' "the screen clear, escaped"
    assert "$stderr" =~ '  mitogen-run: all good' "the forged line, indented as the hop's"
    assert "$stderr" =~ '\\xff out' "the byte that is no UTF-8, in hexadecimal"

    MITOGEN_AGENT=$STUBS/hostile/agent-noise run_mg_sep 255 mitogen-run -w 'local,local?remote_name=x' true
    assert_no_raw_controls "two targets"
    assert_no_forged_line "two targets"
    assert "$stderr" =~ 'local: \\x1b]0;pwned\\x07' "two targets: escaped, behind the target's name"
    assert "$(tail -n 1 <<<"$stderr")" =~ "^mitogen-run: 2 of 2 failed: " "two targets: the summary is a line of its own"
}

@test "an agent's log lines and error messages reach the terminal escaped" {
    MITOGEN_AGENT=$STUBS/hostile/agent-junk run_mg_sep 126 mitogen-run local true
    assert_no_raw_controls "one target"
    assert_no_forged_line "one target"
    assert "$stderr" =~ 'mitogen-run: local: log \\x1b]0;pwned\\x07\\nmitogen-run: all good\\n\\xff' \
        "the log line: one line, escaped"
    assert "$stderr" =~ 'mitogen-run: local: exec \\x1b]0;pwned\\x07' "the EXEC failure, escaped"

    MITOGEN_AGENT=$STUBS/hostile/agent-junk run_mg_sep 126 mitogen-run -w 'local,local?remote_name=x' true
    assert_no_raw_controls "two targets"
    assert_no_forged_line "two targets"
    assert "$(tail -n 1 <<<"$stderr")" =~ '^mitogen-run: 2 of 2 failed: .*\(exec \\x1b]0;pwned\\x07\)$' \
        "two targets: the summary's reason, escaped"
}

@test "a chain with ESC, newline and 0xff: one line, escaped" {
    run_mg_sep 2 mitogen-run $'lo\e]0;x\acal\xff\nmitogen-run: all good' true
    assert_no_raw_controls "chain"
    assert "${#stderr_lines[@]}" -eq 1 "a one-line message"
    assert "$stderr" =~ "^mitogen-run: chain 'lo\\\\x1b]0;x\\\\x07cal\\\\xff\\\\nmitogen-run: all good': column 3:" \
        "the chain, escaped"

    # Decoded bytes of an option value, in the parser's error and in --dry-run.
    run_mg_sep 2 mitogen-run 'local?debug=%1B]0;x%07%FF' true
    assert_no_raw_controls "option value"
    assert "$stderr" =~ "not '\\\\x1b]0;x\\\\x07\\\\xff'" "the value, escaped"
    run_mg_sep mitogen-run --dry-run 'ssh:h?ssh_args=%1B]0;x%07'
    stderr=$output assert_no_raw_controls "--dry-run"
}

@test "the password prompt on the terminal shows a chain's bytes escaped" {
    if ! command -v script >/dev/null; then
        skip "needs script(1) (bsdutils) to give mitogen-run a terminal"
    fi
    # An ssh stand-in that asks for a password on its terminal, as ssh
    # does, waits for the answer, then fails.
    printf '#!/bin/sh\nprintf "root@x%ss password: " >/dev/tty\nread pw </dev/tty\nexit 1\n' "'" >"$MG_TMP/ssh-ask"
    chmod +x "$MG_TMP/ssh-ask"
    local out chain
    chain="ssh:x?check_host_keys=accept&ssh_path=$(printf '%s' "$MG_TMP/ssh-ask" | sed 's|/|%2F|g')"
    chain+="&remote_name=%FF%C2%9B"
    out=$(printf 'typed\n' | timeout "$(mg_secs 20)" script -qec "mitogen-run '$chain' -- true" /dev/null 2>&1) || true
    echo "$out"
    assert "$out" =~ 'remote_name=\\xff\\xc2\\x9b on this host\] password:' "the prompt, escaped"
    if [[ $out == *$'\xff'* || $out == *$'\xc2\x9b'* ]]; then
        die "a raw 0xff or C1 byte reached the terminal"
    fi
}

@test "a hop flooding the master with PASSWORD requests holds one, and no payload" {
    if ! command -v script >/dev/null; then
        skip "needs script(1) (bsdutils) to give mitogen-run a terminal"
    fi
    local log=$MG_TMP/pw.log
    # The prompt waits on the terminal (nothing is typed) while the hop asks
    # 40 times for the password of the hop below it, 4 MiB a request.
    sleep 8 | MG_HOSTILE_LOG=$log MITOGEN_AGENT=$STUBS/hostile/password-flood \
        timeout "$(mg_secs 20)" script -qec "mitogen-run -t 6 local/sudo:root true" /dev/null \
        >/dev/null 2>&1 || true
    cat "$log"
    assert "$(cat "$log")" =~ "sent 40 for 2" "the flood was sent"
    run grep -c "^answer 1 $(printf '%s' 'a password request for this hop is waiting already' |
        od -An -tx1 | tr -d ' \n')\$" "$log"
    assert "$output" == "39" "every request past the first was refused at once"
    # ASan keeps freed memory in quarantine (256 MiB): there the RSS
    # cannot tell payloads held from payloads freed.
    if [[ ${MG_SANITIZE:-none} == none ]]; then
        local rss
        rss=$(awk '$1 == "rss" { print $2 }' "$log")
        assert "$rss" -lt 65536 "the master held no payload (VmRSS ${rss} kB)"
    fi
}


@test "a hop cannot force its log lines onto the terminal: only debug=1 shows them" {
    MITOGEN_AGENT=$STUBS/hostile/log-show run_mg_sep mitogen-run local true
    assert "$stderr" !~ "forced line" "a hop without debug=1: its MG_LOG_SHOW is ignored"
    MITOGEN_AGENT=$STUBS/hostile/log-show run_mg_sep mitogen-run 'local?debug=1' true
    assert "$stderr" =~ "local\\?debug=1: log-show stub: forced line" "with debug=1 it is shown"
}

@test "a hop cannot have its parent pass its log lines on as the parent's own" {
    local standin=$MG_TMP/log-to-parent
    printf '#!/bin/sh\nMG_SRC_DIR=%q MG_LOG_TO=parent exec python3 %q "$@"\n' \
        "$MG_SRC_DIR" "$STUBS/hostile/log-show" >"$standin"
    chmod 755 "$standin"
    run_mg_sep mitogen-run "local?debug=1/docker:evil?docker_path=$(mg_pct "$standin")" true
    assert "$stderr" =~ "local\\?debug=1: " "the debug=1 hop's own lines are shown"
    assert "$stderr" !~ "forced line" "the line below it is not shown in its name"
}

# vim: filetype=sh

# A watched descriptor closed before its watcher is freed stays in epoll
# while another process holds the same open file (a hop forked but not
# yet exec'd): the loop then called the freed watcher (a fan-out with
# failed hops aborted about one run in twelve). strace sees the order:
# the watcher's EPOLL_CTL_DEL fails with EBADF when the fd went first.
@test "no descriptor is closed before its watcher: failed hops, stdin, copies, programs" {
    command -v strace >/dev/null || skip "no strace"
    printf '#!/bin/sh\nsleep 0.2\necho nope >&2\nexit 255\n' >"$MG_TMP/slowfail"
    chmod +x "$MG_TMP/slowfail"
    local slow false trace=$MG_TMP/trace
    slow="ssh:y?ssh_path=$(mg_pct "$MG_TMP/slowfail")"
    false="ssh:x?ssh_path=$(mg_pct /bin/false)"
    echo data >"$MG_TMP/src"
    local -a cmds=(
        "255 mitogen-run -w local -w fork -w $false -w $slow -- echo hi"
        "255 mitogen-run -w local/local -w $slow -- cat"
        "0 mitogen-run -b -w local -w local/fork -- cat"
        "0 mitogen-cp -w local,local/local $MG_TMP/src :$MG_TMP/dst"
        "0 mitogen-cp local/local:$MG_TMP/src $MG_TMP/back"
        "255 mitogen-cp -w local,$slow $MG_TMP/src :$MG_TMP/dst2"
        "0 mitogen-exec -w local/local,local/fork -- /bin/true"
    )
    local c want
    for c in "${cmds[@]}"; do
        want=${c%% *}
        # shellcheck disable=SC2086 # the words are split on purpose
        # (LeakSanitizer cannot run under ptrace.)
        ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
            run_mg_sep "$want" strace -f -qq -e trace=epoll_ctl -e status=failed -e signal=none \
            -o "$trace" ${c#* } <<<"input"
        if grep EBADF "$trace"; then
            die "a watched fd was closed before its watcher: ${c#* }"
        fi
    done
}

@test "out of descriptors at any point: the error says so, on either side" {
    # Each limit runs out at another step: the master's hop, its command's
    # channels, the agent's pipes for the command, the agent's own hop.
    # Whatever fails must say why, never a bare "cannot start the command".
    local n chain seen=0
    for n in $(seq 10 24); do
        for chain in local local/local; do
            MG_TIMEOUT=30 run_mg_sep '?' sh -c 'ulimit -n "$1" && shift && exec "$@"' sh "$n" \
                mitogen-run "$chain" -- echo ok
            if [[ $status == 0 ]]; then
                assert "$output" == "ok" "limit $n, $chain: the command ran"
                continue
            fi
            seen=$((seen + 1))
            assert "$status" =~ "^(126|255)$" "limit $n, $chain: 126 or 255, not $status"
            assert "$stderr" =~ "^mitogen-run: local[^ ]*: .*(Too many open files|No file descriptors available)$" \
                "limit $n, $chain: the reason is named"
        done
    done
    ((seen >= 4)) || die "only $seen runs ran out of descriptors: the limits no longer reach"
}
