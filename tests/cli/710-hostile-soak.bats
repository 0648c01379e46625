#!/usr/bin/env bats
# -*- bats -*-
#
# Soak (issue 12): 100 targets behind one shared agent, one of them a
# hostile hop (each stub of tests/stubs/hostile/ in turn), over a local
# chain and over the test sshd. Every healthy target must succeed, the
# hostile one must fail with an error naming it, and the master and the
# shared agent must stay within bounded memory and file descriptors
# throughout.

load helpers
load sshd

function setup_file() {
    export BATS_NO_PARALLELIZE_WITHIN_FILE=true
    start_sshd
}

function teardown_file() {
    stop_sshd
}

# Bounds for the master and the shared agent, sampled while the run goes
# on. A real build stays under 32 MiB here; a flood would take hundreds.
# A sanitizer build's shadow memory and quarantine make RSS meaningless:
# its bound only catches a runaway. The shared agent holds about four fds
# per hop it started (the stream, the stderr pipe, the pidfd...): 100 hops
# make some 410.
if [[ ${MG_SANITIZE:-none} == none ]]; then
    RSS_MAX_KB=${RSS_MAX_KB:-65536}
else
    RSS_MAX_KB=${RSS_MAX_KB:-1048576}
fi
FDS_MAX=${FDS_MAX:-800}

# Healthy targets beside the hostile one. A sanitizer build's agent is
# some 70 times larger and each takes a tenth of a second of CPU to start:
# 29 there (the same paths at a third of the cost), 99 in a real build.
if [[ ${MG_SANITIZE:-none} == none ]]; then
    SOAK_N=${SOAK_N:-99}
else
    SOAK_N=${SOAK_N:-29}
fi

# descends PID ANCESTOR...: whether PID is one of the ANCESTORs or below one.
# No fork per step: beside the other test files, pgrep finds dozens of
# their agents by the same name, and a walk that forked for each step
# made one sampling round outlast a whole run (no sample at all, once).
# The parent is the second field after the name, which may hold spaces.
function descends() {
    local p=$1 a stat rest i
    shift
    for ((i = 0; i < 64 && p > 1; i++)); do
        for a in "$@"; do
            [[ $p == "$a" ]] && return 0
        done
        read -r stat <"/proc/$p/stat" 2>/dev/null || return 1
        rest=${stat##*) }
        rest=${rest#* }
        p=${rest%% *}
        [[ $p =~ ^[0-9]+$ ]] || return 1
    done
    return 1
}

# sample PID: "RSS_KB FDS" of a live process, or nothing.
function sample() {
    local rss fds
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 0
    fds=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    if [[ -n $rss ]]; then
        printf '%s %s\n' "$rss" "$fds"
    fi
}

# standin STUB [VAR=VALUE...]: a docker_path stand-in in $MG_TMP that runs
# tests/stubs/hostile/STUB with these variables (set in the file, so that
# they also hold behind ssh, which passes no environment on).
function standin() {
    local stub=$1 f=$MG_TMP/standin-$1
    shift
    {
        printf '#!/bin/sh\n'
        printf 'export MG_SRC_DIR=%q' "$MG_SRC_DIR"
        local v
        for v in "$@"; do
            printf ' %q' "$v"
        done
        printf '\nexec %q "$@"\n' "$MG_SRC_DIR/tests/stubs/hostile/$stub"
    } >"$f"
    chmod 755 "$MG_TMP" "$f"
    printf '%s\n' "$f"
}

# soak PREFIX STANDIN [MITOGEN-RUN OPTIONS...]: SOAK_N healthy targets and one
# hostile one (docker_path=STANDIN), all behind the one agent PREFIX; sets
# status, $out, $err, $max_rss, $max_fds (of the master and of context 1,
# the shared agent, found by the name it gives its process).
function soak() {
    local prefix=$1 standin=$2
    shift 2
    local healthy evil pid p s
    healthy="$prefix/docker:h[01-$SOAK_N]?docker_path=$(mg_pct "$MG_SRC_DIR/tests/stubs/docker")"
    evil="$prefix/docker:evil?docker_path=$(mg_pct "$standin")"
    out=$MG_TMP/out
    err=$MG_TMP/err
    timeout -v --kill-after=5 120 mitogen-run "$@" -w "$healthy" -w "$evil" -- echo ok \
        >"$out" 2>"$err" </dev/null &
    pid=$!
    max_rss=0
    max_fds=0
    while kill -0 "$pid" 2>/dev/null; do
        for p in $(cat "/proc/$pid/task/"*/children 2>/dev/null) $(pgrep -x 'mitogen:1'); do
            # Only this run's: below the master, or below the test sshd.
            descends "$p" "$pid" "$(cat "$MG_SSHD_DIR/sshd.pid" 2>/dev/null)" || continue
            s=$(sample "$p")
            [[ -n $s ]] || continue
            if (( ${s% *} > max_rss )); then max_rss=${s% *}; fi
            if (( ${s#* } > max_fds )); then max_fds=${s#* }; fi
        done
        # Often: a hostile hop caught at once ends the run within 0.2 s.
        sleep 0.05
    done
    status=0
    wait "$pid" || status=$?
    echo "# rc=$status max RSS ${max_rss} kB, max fds $max_fds" >&3
    sed 's/^/# [stderr] /' "$err" | head -20 >&3
}

# check_soak WHAT [EXPECTED_STATUS]: the assertions common to every mode.
# With no status, the hostile target must fail the run and be named.
function check_soak() {
    local what=$1 expected=${2:-}
    assert "$(cat "$err")" !~ "timeout: sending signal" "$what: the run ended by itself"
    if [[ -z $expected ]]; then
        assert "$status" -ne 0 "$what: the hostile target failed the run"
        assert "$(cat "$err")" =~ "1 of $((SOAK_N + 1)) failed: evil" "$what: the summary names it"
    else
        assert "$status" -eq "$expected" "$what: exit status"
    fi
    assert "$(grep -c '^h[0-9][0-9]: ok$' "$out")" -eq "$SOAK_N" "$what: all $SOAK_N healthy targets ran"
    assert "$(grep -c '^evil: ok$' "$out")" -eq 0 "$what: nothing ran for the hostile target"
    assert "$max_rss" -gt 0 "$what: the processes were sampled"
    assert "$max_rss" -le "$RSS_MAX_KB" "$what: RSS stayed bounded (${max_rss} kB)"
    assert "$max_fds" -le "$FDS_MAX" "$what: fds stayed bounded ($max_fds)"
}

# The four hostile modes, each over PREFIX.
function soak_hijack() {
    soak "$1" "$(standin hijack MG_HOSTILE_LOG="$MG_TMP/evil.log")"
    check_soak hijack
    assert "$(cat "$err")" =~ "not asked to connect" "the reason is given"
}

function soak_data_flood() {
    # Before STARTED no credit can have come back: past 2 MiB is a breach
    # however fast the master reads.
    soak "$1" "$(standin data-flood MG_FLOOD_BYTES=$((256 << 20)) MG_FLOOD_MODE=early)"
    check_soak data-flood
    assert "$(cat "$err")" =~ "evil: .*rcvd too much data" "the reason is given"
}

function soak_fetch_flood() {
    soak "$1" "$(standin fetch-flood MG_FETCH_LOG="$MG_TMP/fetch.log" MG_FETCH_WAIT=10)"
    # Each request is refused or answered: the hop itself stays, and ends
    # as a command that printed nothing and exited 0.
    check_soak fetch-flood 0
    assert "$(cat "$MG_TMP/fetch.log")" =~ "answers" "the flood was sent and answered"
}

function soak_exec_silent() {
    soak "$1" "$(standin exec-silent)" -u 5
    check_soak exec-silent 124
    assert "$(cat "$err")" =~ "evil.*timed out after 5 s" "the reason is given"
}

@test "soak: healthy targets and a hijacker" {
    soak_hijack local
}

@test "soak: healthy targets and a hop flooding its stdout past the window" {
    soak_data_flood local
}

@test "soak: healthy targets and a hop flooding its parent with program fetches" {
    soak_fetch_flood local
}

@test "soak: healthy targets and a hop that never answers EXEC, with -u" {
    soak_exec_silent local
}

@test "soak over ssh: healthy targets and a hijacker" {
    need_sshd
    soak_hijack "$(ssh_hop)"
}

@test "soak over ssh: healthy targets and a hop flooding its stdout past the window" {
    need_sshd
    soak_data_flood "$(ssh_hop)"
}

@test "soak over ssh: healthy targets and a hop flooding its parent with program fetches" {
    need_sshd
    soak_fetch_flood "$(ssh_hop)"
}

@test "soak over ssh: healthy targets and a hop that never answers EXEC, with -u" {
    need_sshd
    soak_exec_silent "$(ssh_hop)"
}

# The issue-12 starvation through a shared agent: a child floods while the
# master cannot write (its stdout blocked for a while), so the agent's way
# up fills. The agent must stop reading from that child, not queue until
# it drops its own parent link, and with it every sibling.
@test "a flooding child cannot make its parent agent drop the way up" {
    local healthy evil
    export MG_FLOOD_BYTES=$((200 << 20)) MG_FLOOD_MODE=late
    healthy="local/docker:h[1-3]?docker_path=$(mg_pct "$MG_SRC_DIR/tests/stubs/docker")"
    evil="local/docker:evil?docker_path=$(mg_pct "$MG_SRC_DIR/tests/stubs/hostile/docker-data-flood")"
    { timeout -v --kill-after=5 120 mitogen-run -w "$healthy" -w "$evil" -- \
        sh -c 'sleep 1; echo ok' 2>"$MG_TMP/err" </dev/null || echo "rc=$?" >"$MG_TMP/rc"; } |
        { sleep 6; grep -v '^evil: ' >"$MG_TMP/out" || true; }
    sed 's/^/# [stderr] /' "$MG_TMP/err" | head -20 >&3
    assert "$(cat "$MG_TMP/err")" !~ "connection to local lost" "the shared agent kept its parent"
    assert "$(cat "$MG_TMP/err")" !~ "timeout: sending signal" "the run ended by itself"
    assert "$(sort "$MG_TMP/out")" == $'h1: ok\nh2: ok\nh3: ok' "every sibling ran"
}
