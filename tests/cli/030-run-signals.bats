#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
#
# Signals and timeouts: SIGINT and SIGTERM reach the remote command through
# every hop, the remote process group goes away, a killed mitogen-run leaves
# nothing behind, and -u stops a command that runs too long.

load helpers

function setup() {
    basic_setup
    export TMPDIR=$MG_TMP/tmpdir
    mkdir "$TMPDIR"
    # A unique argument for the remote sleeps of this test.
    SLEEP_ARG=300.$RANDOM$RANDOM
    MG_PID=
}

function teardown() {
    local pid
    # Whatever is left is ours: mitogen-run, our agents, our sleeps.
    if [[ -n $MG_PID ]]; then
        kill -KILL "$MG_PID" 2>/dev/null || true
    fi
    for pid in $(agent_pids) $(live_procs "sleep $SLEEP_ARG"); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    basic_teardown
}

# The agents the remote command saw above itself (written to $MG_TMP/agents
# by AGENTS_SCRIPT), those still alive and still agents.
function agent_pids() {
    local pid state comm
    [[ -f $MG_TMP/agents ]] || return 0
    for pid in $(cat "$MG_TMP/agents"); do
        comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
        state=$(sed -n 's/^State:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null) || continue
        [[ $comm == mitogen:* && $state != Z* ]] && echo "$pid"
    done
    return 0
}

# Remote shell code: write the pids of the mitogen:* ancestors to
# $MG_TMP/agents (expanded here, so the path is fixed).
function agents_script() {
    printf '%s' 'p=$$; : >'"$MG_TMP/agents.tmp"'
while [ "$p" -gt 1 ]; do
    case $(cat /proc/$p/comm) in mitogen:*) echo "$p" >>'"$MG_TMP/agents.tmp"' ;; esac
    p=$(sed -n "s/^PPid:[[:space:]]*//p" /proc/$p/status)
done
mv '"$MG_TMP/agents.tmp $MG_TMP/agents"'
'
}

# Start mitogen-run in the background, with SIGINT and SIGTERM at their
# default dispositions (bash makes background jobs ignore SIGINT), stdout
# and stderr to $MG_TMP/out and $MG_TMP/err. Sets MG_PID.
function start_mg() {
    printf '\n%s %s &\n' "$_MG_PROMPT" "$*"
    env --default-signal=INT,TERM,QUIT,HUP "$@" >"$MG_TMP/out" 2>"$MG_TMP/err" 3>&- &
    MG_PID=$!
}

# Wait up to $1 seconds for file $2 to exist.
function wait_for_file() {
    local i
    for ((i = 0; i < $1 * MG_TIMEOUT_SCALE * 20; i++)); do
        [[ -e $2 ]] && return 0
        sleep 0.05
    done
    die "$2 did not appear within $(mg_secs "$1") s (stderr of mitogen-run: $(cat "$MG_TMP/err"))"
}

# Wait up to $1 seconds for MG_PID to exit; sets $status to its status.
function wait_mg() {
    local i
    for ((i = 0; i < $1 * MG_TIMEOUT_SCALE * 20; i++)); do
        if ! kill -0 "$MG_PID" 2>/dev/null; then
            break
        fi
        sleep 0.05
    done
    if kill -0 "$MG_PID" 2>/dev/null; then
        die "mitogen-run (pid $MG_PID) still runs after $(mg_secs "$1") s"
        return
    fi
    status=0
    wait "$MG_PID" || status=$?
    MG_PID=
    printf '[ rc=%s ]\n' "$status"
    sed 's/^/[stderr] /' "$MG_TMP/err"
}

# wait_until_empty SECS COMMAND [ARG...]: wait until COMMAND prints
# nothing; print its last output otherwise.
function wait_until_empty() {
    local i out
    for ((i = 0; i < $1 * MG_TIMEOUT_SCALE * 20; i++)); do
        out=$("${@:2}")
        [[ -z $out ]] && return 0
        sleep 0.05
    done
    printf '%s\n' "$out"
}

@test "SIGINT reaches the remote command through local/local" {
    start_mg mitogen-run local/local \
        "trap 'echo got-int >$MG_TMP/marker; exit 7' INT
echo ready >$MG_TMP/ready
while :; do sleep 0.1; done"
    wait_for_file 10 "$MG_TMP/ready"
    kill -INT "$MG_PID"
    wait_mg 10
    assert "$status" -eq 7 "mitogen-run exits with the status of the trap"
    assert "$(cat "$MG_TMP/marker" 2>/dev/null)" == "got-int" "the remote trap ran"
    # (the remote sh may say its sleep was killed; mitogen-run says nothing)
    assert "$(cat "$MG_TMP/err")" !~ "mitogen" "no error of mitogen-run on stderr"
}

@test "SIGTERM reaches the remote command through local/local" {
    start_mg mitogen-run local/local \
        "trap 'echo got-term >$MG_TMP/marker; exit 8' TERM
echo ready >$MG_TMP/ready
while :; do sleep 0.1; done"
    wait_for_file 10 "$MG_TMP/ready"
    kill -TERM "$MG_PID"
    wait_mg 10
    assert "$status" -eq 8 "mitogen-run exits with the status of the trap"
    assert "$(cat "$MG_TMP/marker" 2>/dev/null)" == "got-term" "the remote trap ran"
    # (the remote sh may say its sleep was killed; mitogen-run says nothing)
    assert "$(cat "$MG_TMP/err")" !~ "mitogen" "no error of mitogen-run on stderr"
}

@test "SIGTERM while targets connect: 143 with -w too, as with one target" {
    # A docker_path that never starts an agent: the hop stays connecting.
    printf '#!/bin/sh\necho up >"%s/hung.$$"\nexec sleep %s\n' "$MG_TMP" "$SLEEP_ARG" >"$MG_TMP/hang"
    chmod +x "$MG_TMP/hang"
    local hop="docker:x?docker_path=${MG_TMP//\//%2F}%2Fhang" w i
    for w in "$hop" "-w $hop" "-w $hop,$hop&connect_timeout=60" "--json -w $hop"; do
        rm -f "$MG_TMP"/hung.*
        # shellcheck disable=SC2086 # $w is words
        start_mg mitogen-run -t 60 $w -- true
        for ((i = 0; i < 10 * MG_TIMEOUT_SCALE * 20; i++)); do
            compgen -G "$MG_TMP/hung.*" >/dev/null && break
            sleep 0.05
        done
        kill -TERM "$MG_PID"
        wait_mg 10
        assert "$status" -eq 143 "$w: 128+SIGTERM, not 255 (nothing was unreachable)"
    done
}

@test "a second SIGINT abandons a command that ignores the first" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the agents stay up for the next command"
    start_mg mitogen-run local/local "$(agents_script)
trap '' INT
echo ready >$MG_TMP/ready
sleep $SLEEP_ARG"
    wait_for_file 10 "$MG_TMP/ready"
    kill -INT "$MG_PID"
    sleep 0.5
    assert "$(live_procs "sleep $SLEEP_ARG")" != "" "the first SIGINT is ignored by the command"
    kill -INT "$MG_PID"
    wait_mg 3
    assert "$status" -eq 130 "mitogen-run gives up with 128+SIGINT"
    assert "$(wait_until_empty 6 agent_pids)" == "" "no agent left"
    assert "$(wait_until_empty 6 live_procs "sleep $SLEEP_ARG")" == "" "no remote command left"
}

@test "SIGTERM stops the whole remote process group" {
    start_mg mitogen-run local/local \
        "sleep $SLEEP_ARG &
echo ready >$MG_TMP/ready
wait"
    wait_for_file 10 "$MG_TMP/ready"
    assert "$(live_procs "sleep $SLEEP_ARG")" != "" "the background sleep runs"
    kill -TERM "$MG_PID"
    wait_mg 10
    assert "$status" -eq 143 "the remote shell died of SIGTERM"
    assert "$(wait_until_empty 5 live_procs "sleep $SLEEP_ARG")" == "" \
        "no background sleep left within 5 s"
}

@test "SIGKILL of mitogen-run: agents, command and temp files all go" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the agents stay up (840-persist.bats checks the command goes)"
    start_mg mitogen-run local/local "$(agents_script)
sleep $SLEEP_ARG &
echo ready >$MG_TMP/ready
wait"
    wait_for_file 10 "$MG_TMP/ready"
    assert "$(agent_pids | wc -l)" -eq 2 "two agents run above the command"
    assert "$(live_procs "sleep $SLEEP_ARG")" != "" "the remote sleep runs"

    kill -KILL "$MG_PID"
    wait_mg 5
    assert "$status" -eq 137 "mitogen-run was killed"
    assert "$(wait_until_empty 5 agent_pids)" == "" "no agent left within 5 s"
    assert "$(wait_until_empty 5 live_procs "sleep $SLEEP_ARG")" == "" \
        "no remote command left within 5 s"
    assert "$(command ls -A "$TMPDIR")" == "" "nothing in TMPDIR"
}

@test "a hangup at the agents (sudo's or su's terminal gone with mitogen-run) orphans no command" {
    [[ -z ${MITOGEN_PERSIST:-} ]] || skip "with MITOGEN_PERSIST the agents stay up"
    # sudo with use_pty passes its terminal's hangup on to the agent when
    # mitogen-run dies, at times before the agent sees its link end: the
    # agent must outlive it, and stop its command at the link's end.
    local chain=local/local
    if is_root && command -v sudo >/dev/null; then
        chain=local/sudo
    fi
    start_mg mitogen-run "$chain" "$(agents_script)
sleep $SLEEP_ARG &
echo ready >$MG_TMP/ready
wait"
    wait_for_file 10 "$MG_TMP/ready"
    local agents
    agents=$(agent_pids)
    assert "$(wc -l <<<"$agents")" -eq 2 "two agents run above the command ($chain)"
    # shellcheck disable=SC2086 # one pid per word
    kill -HUP $agents
    sleep 0.5
    assert "$(agent_pids)" == "$agents" "both agents outlive SIGHUP"
    assert "$(live_procs "sleep $SLEEP_ARG")" != "" "the command runs on"
    kill -KILL "$MG_PID"
    wait_mg 5
    assert "$(wait_until_empty 5 live_procs "sleep $SLEEP_ARG")" == "" \
        "no remote command left within 5 s of mitogen-run's death"
    assert "$(wait_until_empty 5 agent_pids)" == "" "no agent left within 5 s"
}

@test "-u 1: the command is stopped, exit 124, 'timed out'" {
    local t0 t1
    t0=$(now_us)
    run_mg_sep 124 mitogen-run -u 1 local -- sleep "$SLEEP_ARG"
    t1=$(now_us)
    assert "$(((t1 - t0) / 1000))" -lt 15000 "milliseconds until mitogen-run gave up"
    assert "$(((t1 - t0) / 1000))" -ge 900 "milliseconds: it did wait for the timeout"
    assert "$output" == "" "nothing on stdout"
    assert "$stderr" =~ "^mitogen-run: local: .*timed out" "the error names the hop and says timed out"
    assert "$(wait_until_empty 5 live_procs "sleep $SLEEP_ARG")" == "" "the sleep is gone"

    # Through two hops, and a command that finishes in time is not affected.
    run_mg_sep 124 mitogen-run --command-timeout=1 local/local "sleep $SLEEP_ARG"
    assert "$stderr" =~ "^mitogen-run: local/local: .*timed out" "two hops: hop and reason"
    run_mg 3 mitogen-run -u 5 local 'exit 3'
}

@test "-u kills a command that ignores SIGTERM" {
    local t0 t1
    t0=$(now_us)
    run_mg_sep 124 mitogen-run -u 1 local/local "trap '' TERM; sleep $SLEEP_ARG; echo survived"
    t1=$(now_us)
    assert "$(((t1 - t0) / 1000))" -lt 15000 "milliseconds until mitogen-run gave up"
    assert "$output" == "" "the command never got past the sleep"
    assert "$stderr" =~ "timed out" "the error says timed out"
    assert "$(wait_until_empty 5 live_procs "sleep $SLEEP_ARG")" == "" "the sleep is gone"
}

@test "one SIGTERM: the command's own clean-up has its 5 s, not 1" {
    # The trap takes 2.5 s: past any 1 s grace, within the 5 s the man
    # page gives before SIGKILL.
    start_mg mitogen-run local/local \
        "trap 'sleep 2.5; echo cleaned >$MG_TMP/marker; exit 3' TERM
echo ready >$MG_TMP/ready
while :; do sleep 0.1; done"
    wait_for_file 10 "$MG_TMP/ready"
    kill -TERM "$MG_PID"
    wait_mg 15
    assert "$status" -eq 3 "mitogen-run exits with the status of the trap"
    assert "$(cat "$MG_TMP/marker" 2>/dev/null)" == "cleaned" "the trap ran to its end"
}

@test "-u: the command's own clean-up has its 2 s before SIGKILL" {
    # The trap takes 1 s of the 2: the rest is margin for a loaded
    # machine (its output still has to come back before the SIGKILL).
    run_mg_sep 124 mitogen-run -u 1 local/local \
        "trap 'sleep 1; echo cleaned; exit 3' TERM; while :; do sleep 0.1; done"
    assert "$output" == "cleaned" "the trap ran to its end"
    assert "$stderr" =~ "timed out after 1 s" "the error says timed out"
}

# vim: filetype=sh
