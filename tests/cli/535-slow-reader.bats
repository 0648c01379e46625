#!/usr/bin/env bats
# -*- bats -*-
#
# A reader of mitogen-run's output that stalls (a pager stopped with ^Z,
# a pipe nobody reads) must not stall the run: timeouts and the other
# targets go on, the output waits in bounded memory, and all of it comes
# once the reader is back (issue 7, item 5). Targets are local and fork.

load helpers

# wait_until SECS COMMAND...: run COMMAND every 0.1 s until it succeeds;
# 1 when SECS pass first.
function wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# Whether a process's whole command line is $1 (not mitogen-run's own,
# which holds it among other words).
function no_process() {
    ! pgrep -fx "$1" >/dev/null
}

function some_process() {
    pgrep -fx "$1" >/dev/null
}

# Start the reader of FIFO $1 into file $2, stopped; its pid in $reader.
# fd 5 holds the FIFO open meanwhile, so that neither open waits; the
# reader holds neither it (it would never see EOF) nor bats' fd 3.
function stopped_reader() {
    exec 5<>"$1"
    cat "$1" >"$2" 5>&- 3>&- &
    reader=$!
    kill -STOP "$reader"
}

function teardown() {
    if [[ -n ${reader:-} ]]; then
        kill -CONT "$reader" 2>/dev/null || true
        kill "$reader" 2>/dev/null || true
    fi
    exec 5>&-
    basic_teardown
}

@test "-u ends the run while nobody reads its output; all of it comes when the reader is back" {
    local secs fifo=$MG_TMP/fifo mg rc=0
    secs=$((1000 + RANDOM))
    mkfifo "$fifo"
    stopped_reader "$fifo" "$MG_TMP/out"

    # 1,000,000 bytes of lines per target (three targets: more than the
    # report queues before it holds the channels, less than they carry
    # in flight), then a sleep that only -u ends ("sleep $secs" is not
    # mitogen-run's argument: pgrep finds only the remote one).
    local cmd="yes abc | head -c 1000000; sleep \$((secs + 0))"
    local marker="sleep $secs"
    _mg_log_command mitogen-run -u 2 -e secs="$secs" -w local,fork,local/fork -- "$cmd"
    timeout -v --kill-after=5 "$(mg_secs 60)" \
        mitogen-run -u 2 -e secs="$secs" -w local,fork,local/fork -- "$cmd" >"$fifo" 2>"$MG_TMP/err" 5>&- 3>&- &
    mg=$!

    wait_until "$(mg_secs 20)" some_process "$marker" || die "the commands did not start"
    # A loop blocked on its output would never fire -u: they would sleep on.
    wait_until "$(mg_secs 15)" no_process "$marker" ||
        die "-u did not stop the commands while the output was not read"
    kill -0 "$mg" 2>/dev/null || die "mitogen-run ended before its output was read"

    kill -CONT "$reader"
    wait "$mg" || rc=$?
    exec 5>&-
    wait "$reader"
    cat "$MG_TMP/err"
    assert "$rc" -eq 124 "every target timed out"
    for name in local fork local+fork; do
        run grep -c "^$name: abc\$" "$MG_TMP/out"
        assert "$output" == "250000" "$name: all its lines"
    done
    run grep -vc ': abc$' "$MG_TMP/out"
    assert "$output" == "0" "nothing else on stdout, no line cut"
}

@test "output without end and nobody reading it: bounded memory, -u still ends the run" {
    local marker fifo=$MG_TMP/fifo mg rc=0 rss=0 hwm
    marker=mg-slow-$(safename)
    mkfifo "$fifo"
    stopped_reader "$fifo" "$MG_TMP/out"

    local cmd="yes $marker"
    _mg_log_command mitogen-run -u 3 -w local,fork -- "$cmd"
    timeout -v --kill-after=5 "$(mg_secs 60)" \
        mitogen-run -u 3 -w local,fork -- "$cmd" >"$fifo" 2>"$MG_TMP/err" 5>&- 3>&- &
    mg=$!

    wait_until "$(mg_secs 20)" some_process "yes $marker" || die "the commands did not start"
    # The held channels stop the producers: the master's memory stays
    # at the queue's mark plus what was in flight.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        # $mg is timeout(1); mitogen-run is its child.
        for p in $(pgrep -P "$mg" -x mitogen-run); do
            hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$p/status" 2>/dev/null) || true
            if [[ -n $hwm ]] && ((hwm > rss)); then
                rss=$hwm
            fi
        done
        sleep 0.2
    done
    ((rss > 0)) || die "mitogen-run not found below timeout (pid $mg)"
    wait_until "$(mg_secs 20)" no_process "yes $marker" ||
        die "-u did not stop the commands while the output was not read"

    kill -CONT "$reader"
    wait "$mg" || rc=$?
    exec 5>&-
    wait "$reader"
    tail -3 "$MG_TMP/err"
    assert "$rc" -eq 124 "the targets timed out"
    echo "# peak RSS of mitogen-run: $rss KiB" >&3
    assert "$rss" -lt "$((64 * 1024 * (MG_TIMEOUT_SCALE > 1 ? 16 : 1)))" "bounded memory"
    # Whole lines, but for the last of each target: cut where -u killed
    # it, and ended at the end of the run.
    run awk -v m="$marker" '{ p = index($0, ": "); t = substr($0, p + 2)
        if (p == 0 || index(m, t) != 1) print }' "$MG_TMP/out"
    assert "$output" == "" "lines of the command only"
    run grep -vc "^[a-z]*: $marker\$" "$MG_TMP/out"
    assert "$output" -le 2 "at most one line cut short per target"
}

@test "stdout and stderr are left as they were found: blocking" {
    # The commands after mitogen-run share its stdout and stderr (the
    # same open pipe and file): they must not find them non-blocking.
    local check='import fcntl, os, sys
for fd in (1, 2):
    sys.stderr.write("fd %d %s\n" % (fd, "non-blocking" if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK else "blocking"))'
    run_mg bash -c "{ mitogen-run -w local,fork -- echo hi; python3 -c '$check'; } 2>'$MG_TMP/err' | cat"
    assert "$(sort <<<"$output")" == $'fork: hi\nlocal: hi' "the output"
    run cat "$MG_TMP/err"
    assert "$output" == $'fd 1 blocking\nfd 2 blocking' "both fds blocking again"
}
