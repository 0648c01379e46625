#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
# shellcheck disable=SC2030,SC2031 # exports are per test (each @test is a subshell)
#
# What mitogen-run holds in memory stays bounded, whatever the far end or
# the inputs do (issue 12, defects 3 and 9):
# - a far end that sends past its flow-control window (the hostile agent
#   tests/stubs/hostile/data-flood) is dropped with "rcvd too much data",
#   with the master's RSS bounded, and its siblings go on;
# - target files and lines are bounded (-w ^/dev/zero, an endless -w -);
# - --json and -b keep at most 64 MiB of a stream per target, and say so
#   in the output and the exit status (255) when they cut it.

load helpers

function setup() {
    basic_setup
    export PATH=$MG_SRC_DIR/tests/stubs:$PATH
    unset MG_STUB_LOG MG_STUB_FAIL MG_STUB_FAIL_STUB MG_FLOOD_MODE MG_FLOOD_BYTES
    MG_PID=
    READER_PID=
    # The hostile hop, behind a healthy local agent.
    local standin=$MG_SRC_DIR/tests/stubs/hostile/docker-data-flood
    FLOOD="local/docker:flood?docker_path=${standin//\//%2F}"
    export MG_FLOOD_LOG=$MG_TMP/flood.log
}

function teardown() {
    local pid
    for pid in $MG_PID $READER_PID; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    basic_teardown
}

# A sanitizer build (mg_sanitized): AddressSanitizer's shadow memory
# inflates RSS and its reservations defeat ulimit -v.

# run_peak OUT ERR PROGRAM [ARG...]: run in the background with stdout and
# stderr to those files, sampling its peak RSS (VmHWM, KiB) into $rss;
# killed after mg_secs $MG_TIMEOUT s. Sets $status.
function run_peak() {
    local out=$1 err=$2 i hwm
    shift 2
    _mg_log_command "$@"
    "$@" >"$out" 2>"$err" 3>&- &
    MG_PID=$!
    rss=0
    for ((i = 0; i < MG_TIMEOUT * MG_TIMEOUT_SCALE * 50; i++)); do
        hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$MG_PID/status" 2>/dev/null) || break
        [[ -n $hwm ]] || break
        ((hwm > rss)) && rss=$hwm
        sleep 0.02
    done
    kill -KILL "$MG_PID" 2>/dev/null || true
    status=0
    wait "$MG_PID" || status=$?
    MG_PID=
    stderr=$(cat "$err")
    printf '[stderr] %s\n' "$stderr"
    echo "[ rc=$status, peak RSS of mitogen-run: $rss KiB ]"
}

# The peak RSS ($rss) is under $1 MiB, in builds without sanitizers.
function assert_rss_below() {
    assert "$rss" -gt 0 "the peak RSS was measured"
    if ! mg_sanitized; then
        assert "$rss" -lt $(($1 * 1024)) "peak RSS of mitogen-run in KiB"
    fi
}

###############################################################################
# A far end past its window (defect 3)

@test "flood past the window into a blocked stdout: dropped, named, RSS bounded" {
    skip_if_no_program python3
    # A reader that never reads: the master's stdout is blocked.
    mkfifo "$MG_TMP/fifo"
    sleep 300 <"$MG_TMP/fifo" &
    READER_PID=$!
    run_peak "$MG_TMP/fifo" "$MG_TMP/err" mitogen-run "$FLOOD" -- true
    assert "$status" -eq 255 "the target fails as lost"
    assert "$stderr" =~ "^mitogen-run: local/docker:flood\\?docker_path=[^ ]*: rcvd too much data on stdout" \
        "the error names the target and says what it did"
    assert "$(cat "$MG_FLOOD_LOG")" =~ "flood 67108864 late" "the stub did flood, after STARTED"
    # Before the fix, the master buffered all 64 MiB (and hung).
    assert_rss_below 32
}

@test "flood before any credit, beside a healthy sibling: only the flood fails" {
    skip_if_no_program python3
    export MG_FLOOD_MODE=early
    run_peak "$MG_TMP/out" "$MG_TMP/err" mitogen-run --json -w "$FLOOD,local/local" -- echo hi
    assert "$status" -eq 255 "one target lost: 255"
    cat >"$MG_TMP/check.py" <<'EOF'
import json, sys
objs = {}
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    objs[o["target"]] = o
assert sorted(objs) == ["flood", "local+local"], sorted(objs)
ok = objs["local+local"]
assert (ok["outcome"], ok["rc"], ok["stdout"]) == ("ok", 0, "hi\n"), ok
bad = objs["flood"]
assert bad["outcome"] == "lost", bad["outcome"]
assert "rcvd too much data on stdout" in bad["error"], bad["error"]
# What arrived within the window, and nothing past it.
assert len(bad["stdout"]) <= 2 << 20, len(bad["stdout"])
print("ok")
EOF
    run python3 "$MG_TMP/check.py" "$MG_TMP/out"
    echo "$output"
    assert "$output" == "ok" "the JSON objects (see above)"
    assert "$stderr" =~ "1 of 2 failed: flood \\(rcvd too much data on stdout" "the summary names it"
    assert_rss_below 32
}

###############################################################################
# Target files and lines (defect 9)

# A prefix for commands run with an address-space cap, so that a regression
# fails instead of eating the machine's memory (not with sanitizers, whose
# reservations it would refuse).
function set_cap() {
    CAP=()
    if ! mg_sanitized; then
        CAP=(bash -c 'ulimit -v $((2 * 1024 * 1024)) && exec "$@"' capped)
    fi
}

@test "-w ^/dev/zero: a usage error naming the file and the line limit" {
    set_cap
    run_mg_sep 2 "${CAP[@]}" mitogen-run -w ^/dev/zero true
    assert "$stderr" == "mitogen-run: /dev/zero: line 1: longer than 65536 bytes (see 'mitogen-run --help')" \
        "the error names the file, the line and the limit"

    printf 'local\n\0local\n' >"$MG_TMP/nul"
    run_mg_sep 2 mitogen-run -w "^$MG_TMP/nul" true
    assert "$stderr" =~ "nul: line 2: not text \\(a NUL byte\\)" "binary content is refused"

    # A line of exactly 65536 bytes is within the limit, one more is not.
    printf '#%065535d\nlocal\n' 0 >"$MG_TMP/long"
    run_mg_sep mitogen-run --dry-run -w "^$MG_TMP/long" true
    assert "$output" =~ "^local: " "the line after the longest one is read"
    printf '#%065536d\nlocal\n' 0 >"$MG_TMP/long"
    run_mg_sep 2 mitogen-run --dry-run -w "^$MG_TMP/long" true
    assert "$stderr" =~ "long: line 1: longer than 65536 bytes" "one byte more is refused"
}

@test "endless -w -: yes | mitogen-run -w - ends with a usage error" {
    # run_mg_sep's time limit is the safety net against an endless read;
    # speed is for tests/bench/bench-targets.sh.
    set_cap
    run_mg_sep 2 "${CAP[@]}" bash -c 'yes | mitogen-run -w - true'
    assert "$stderr" == "mitogen-run: stdin: line 100001: more than 100000 targets (see 'mitogen-run --help')" \
        "the error names stdin and the limit"

    # Only comments: nothing to keep, but not forever either.
    run_mg_sep 2 "${CAP[@]}" bash -c "yes '#' | mitogen-run -w - true"
    assert "$stderr" =~ "^mitogen-run: stdin: larger than 64 MiB \\(at line [0-9]+\\)" \
        "the error names stdin and the size limit"
}

@test "a host list and a file together count against the same limit" {
    seq 1 50000 | sed 's/^/h/' >"$MG_TMP/hosts"
    run_mg_sep 2 mitogen-run -w "^$MG_TMP/hosts" -w 'x[1-50001]' true
    assert "$stderr" =~ ": more than 100000 targets" "100,001 targets in all are refused"
    # 100,000 of them are read, distinct or not (duplicates are found by
    # sorting, not pairwise: tests/bench/bench-targets.sh times it); -T
    # then refuses them, before connecting anything.
    run_mg_sep 2 mitogen-run -T -w "^$MG_TMP/hosts" -w 'x[1-50000]' true
    assert "$stderr" =~ "-T needs exactly one target" "100,000 distinct targets read"
    run_mg_sep 2 mitogen-run -T -w "^$MG_TMP/hosts" -w "^$MG_TMP/hosts" true
    assert "$stderr" =~ "-T needs exactly one target" "50,000 twice read"
}

###############################################################################
# --json and -b keep at most 64 MiB a stream (defect 9)

# One target prints 70,000,000 bytes of 'x' (no newline), a docker-stub
# sibling prints one line.
BIG_CMD='case "${ORIGINAL_ARGV:-}" in
    *docker*) echo small ;;
    *) head -c 70000000 /dev/zero | tr "\0" x ;;
esac'

@test "--json: a stream past 64 MiB is cut, marked truncated, exit 255" {
    skip_if_no_program python3
    run_peak "$MG_TMP/out" "$MG_TMP/err" mitogen-run --json -w 'local,docker:small' -- "$BIG_CMD"
    assert "$status" -eq 255 "a cut output fails the run"
    cat >"$MG_TMP/check.py" <<'EOF'
import json, sys
objs = {}
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    objs[o["target"]] = o
big, small = objs["local"], objs["small"]
assert big["truncated"] is True, big.get("truncated")
assert big["stdout"] == "x" * (64 << 20), len(big["stdout"])
# The command's own status stays; the target failed all the same.
assert (big["outcome"], big["rc"]) == ("failed", 0), (big["outcome"], big["rc"])
assert big["error"] == "stdout over 64 MiB, cut short", big["error"]
assert "truncated" not in small, small
assert (small["outcome"], small["stdout"], small["error"]) == ("ok", "small\n", None), small
print("ok")
EOF
    run python3 "$MG_TMP/check.py" "$MG_TMP/out"
    echo "$output"
    assert "$output" == "ok" "the JSON objects (see above)"
    assert "$stderr" =~ "1 of 2 failed: local \\(stdout over 64 MiB, cut short\\)" "the summary says so"
}

@test "-b: a stream past 64 MiB is cut, its header says so, exit 255" {
    run_peak "$MG_TMP/out" "$MG_TMP/err" mitogen-run -b -w 'local,docker:small' -- "$BIG_CMD"
    assert "$status" -eq 255 "a cut output fails the run"
    assert "$(grep -a -c -x -- 'local (stdout over 64 MiB, cut short)' "$MG_TMP/out")" -eq 1 \
        "the gathered header names the cut"
    assert "$(grep -a -c -x -- small "$MG_TMP/out")" -eq 2 "the sibling's header and output"
    assert "$(tr -cd x <"$MG_TMP/out" | wc -c)" -eq $((64 << 20)) "64 MiB of x kept"
    assert "$stderr" =~ "local: stdout over 64 MiB, cut short" "said as it happens, on stderr"
    assert "$stderr" =~ "1 of 2 failed: local \\(stdout over 64 MiB, cut short\\)" "the summary says so"

    # Within the limit nothing changes.
    run_mg_sep mitogen-run -b -w 'local,docker:small' -- 'head -c 1000 /dev/zero | tr "\0" x; echo'
    assert "$output$stderr" !~ "cut short" "1000 bytes are kept whole"
}
