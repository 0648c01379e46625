# -*- bash -*-
#
# Helpers for the mitogen bats suite (modelled on podman's test/system).
# shellcheck disable=SC2034 # status, output, lines, stderr_lines: for the tests
#
# Load with 'load helpers' at the top of every tests/cli/NNN-name.bats.
# The programs under test are found through PATH: tests/meson.build puts the
# build's cmd/ directory first and exports MG_BUILD_DIR and MG_SRC_DIR.
# Run by hand from the source tree: bats tests/cli (uses build/ by default).

bats_require_minimum_version 1.5.0

# Source tree and build tree.
MG_SRC_DIR=${MG_SRC_DIR:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
MG_BUILD_DIR=${MG_BUILD_DIR:-$MG_SRC_DIR/build}
export MG_SRC_DIR MG_BUILD_DIR
case ":$PATH:" in
*":$MG_BUILD_DIR/cmd:"*) ;;
*) PATH=$MG_BUILD_DIR/cmd:$PATH ;;
esac
export PATH

# The agent of this build, not an installed one, unless the caller chose.
if [[ -z ${MITOGEN_AGENT:-} && -x $MG_BUILD_DIR/cmd/mitogen-agent ]]; then
    export MITOGEN_AGENT=$MG_BUILD_DIR/cmd/mitogen-agent
fi
# Likewise ssh hops' connect helper (TCP_NODELAY; lib/hop/connect/ssh.c).
if [[ -z ${MITOGEN_CONNECT+set} && -x $MG_BUILD_DIR/cmd/mitogen-connect ]]; then
    export MITOGEN_CONNECT=$MG_BUILD_DIR/cmd/mitogen-connect
fi

# Seconds before a command under test is killed (it then fails the test).
# Time limits in tests are safety nets against hangs, never speed checks
# (speed belongs in tests/bench): every one goes through mg_secs, which
# multiplies it by MG_TIMEOUT_SCALE, a whole number: 4 in a sanitizer build
# (tests/meson.build passes MG_SANITIZE, meson's b_sanitize; ASan and UBSan
# run several times slower, more so on a loaded machine), else 1.
MG_TIMEOUT=${MG_TIMEOUT:-30}
if [[ -z ${MG_TIMEOUT_SCALE:-} ]]; then
    case ${MG_SANITIZE:-none} in
    none | '') MG_TIMEOUT_SCALE=1 ;;
    *) MG_TIMEOUT_SCALE=4 ;;
    esac
fi
export MG_TIMEOUT_SCALE

# mg_secs N: the time limit for N seconds of work in this build (N whole).
function mg_secs() {
    echo "$(($1 * MG_TIMEOUT_SCALE))"
}

# mg_sanitized: whether the commands under test are a sanitizer build
# (MG_SANITIZE from meson; by hand, a mitogen-run linked with gcc's
# libasan: clang links its runtime in statically).
function mg_sanitized() {
    case ${MG_SANITIZE:-none} in
    none | '') ldd "$(command -v mitogen-run)" 2>/dev/null | grep -q libasan ;;
    *) return 0 ;;
    esac
}

# Prompt shown in the command log; distinguishes root.
_MG_PROMPT='$'
if [[ $(id -u) -eq 0 ]]; then
    _MG_PROMPT='#'
fi

###############################################################################
# BEGIN setup/teardown

# Not named setup/teardown, so a file may define its own and still call these.

#################
#  basic_setup  #  Per-test scratch directory $MG_TMP
#################
function basic_setup() {
    MG_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/mg_bats.XXXXXX")
    export MG_TMP
    # No configuration of the user running the tests leaks in.
    export XDG_CONFIG_HOME=$MG_TMP/config
    MG_MOST_RECENT_COMMAND=
}

####################
#  basic_teardown  #  Remove $MG_TMP
####################
function basic_teardown() {
    if [[ -n ${MG_TMP:-} && -d $MG_TMP ]]; then
        command rm -rf -- "$MG_TMP"
    fi
}

function setup() {
    basic_setup
}

function teardown() {
    basic_teardown
}

# END   setup/teardown
###############################################################################
# BEGIN running commands

# Parse an optional leading expected-status argument for run_mg*.
# Sets _mg_expected_rc ('' = caller checks) and _mg_shift (0 or 1).
function _mg_expected_rc() {
    _mg_expected_rc=0
    _mg_shift=0
    case "$1" in
    '?') _mg_expected_rc= ; _mg_shift=1 ;;
    [0-9] | [1-9][0-9] | [12][0-9][0-9]) _mg_expected_rc=$1 ; _mg_shift=1 ;;
    esac
}

# Log the command line, quoted so it can be pasted into a shell.
function _mg_log_command() {
    local quoted
    printf -v quoted ' %q' "$@"
    MG_MOST_RECENT_COMMAND=${quoted# }
    printf '\n%s %s\n' "$_MG_PROMPT" "$MG_MOST_RECENT_COMMAND"
}

# Report and check the exit status; shared by run_mg and run_mg_sep.
function _mg_check_status() {
    local expected=$1
    if [[ $status -ne 0 ]]; then
        if [[ -z $expected ]]; then
            echo "[ rc=$status ]"
        elif [[ $status -eq $expected ]]; then
            echo "[ rc=$status (expected) ]"
        else
            echo "[ rc=$status (** EXPECTED $expected **) ]"
        fi
    fi
    # timeout(1) -v says so on stderr when it had to kill the command;
    # mitogen-run's own --command-timeout also exits 124, so look for that.
    if [[ $status -eq 124 || $status -eq 137 ]] &&
        [[ ${output:-}${stderr:-} == *"timeout: sending signal"* ]]; then
        die "command timed out after $(mg_secs "$MG_TIMEOUT")s: $MG_MOST_RECENT_COMMAND"
    fi
    if [[ -n $expected && $status -ne $expected ]]; then
        die "exit status is $status; expected $expected"
    fi
}

############
#  run_mg  #  Run a command under test, with timeout, using bats 'run'
############
#
#   run_mg [EXPECTED_RC|'?'] PROGRAM [ARG...]
#
# Always use this (or run_mg_sep) to run the programs under test; never call
# them directly. It wraps PROGRAM in timeout(1) (mg_secs $MG_TIMEOUT), logs
# the command line and its output (bats shows that only when a test fails),
# and checks the exit status: 0 by default, the number given, or not at all
# with '?'. Sets $status, $output (stdout and stderr merged) and $lines.
# stdin is inherited: run_mg cat-like-cmd <<<"input" works.
function run_mg() {
    _mg_expected_rc "$@"
    shift "$_mg_shift"
    local expected=$_mg_expected_rc

    # bats warns when a command exits 127 (BW01) unless the test said it
    # expects a failure.
    local bang=
    if [[ $expected == 127 ]]; then
        bang='!'
    fi

    _mg_log_command "$@"
    # fd 3 is bats' own: a stray child holding it would hang bats.
    run $bang timeout -v --kill-after=5 "$(mg_secs "$MG_TIMEOUT")" "$@" 3>/dev/null
    if [[ -n $output ]]; then
        printf '%s\n' "$output"
    fi
    _mg_check_status "$expected"
}

################
#  run_mg_sep  #  Like run_mg, with stdout and stderr kept apart
################
#
#   run_mg_sep [EXPECTED_RC|'?'] PROGRAM [ARG...]
#
# Sets $output (stdout), $stderr, $lines and $stderr_lines, and leaves the
# exact bytes in $MG_STDOUT_FILE and $MG_STDERR_FILE (for binary checks
# with cmp). Trailing newlines are stripped from $output and $stderr, as
# bats 'run' does.
function run_mg_sep() {
    _mg_expected_rc "$@"
    shift "$_mg_shift"
    local expected=$_mg_expected_rc
    local dir=${MG_TMP:-${BATS_TEST_TMPDIR:-${BATS_TMPDIR:-/tmp}}}

    MG_STDOUT_FILE=$dir/.mg-stdout
    MG_STDERR_FILE=$dir/.mg-stderr
    _mg_log_command "$@"
    status=0
    timeout -v --kill-after=5 "$(mg_secs "$MG_TIMEOUT")" "$@" \
        >"$MG_STDOUT_FILE" 2>"$MG_STDERR_FILE" 3>/dev/null || status=$?
    output=$(cat "$MG_STDOUT_FILE")
    stderr=$(cat "$MG_STDERR_FILE")
    lines=()
    stderr_lines=()
    if [[ -n $output ]]; then
        mapfile -t lines <<<"$output"
        printf '%s\n' "$output"
    fi
    if [[ -n $stderr ]]; then
        mapfile -t stderr_lines <<<"$stderr"
        printf '[stderr] %s\n' "${stderr_lines[@]}"
    fi
    _mg_check_status "$expected"
}

# END   running commands
###############################################################################
# BEGIN assertions

#########
#  die  #  Abort the test with a visible message
#########
function die() {
    local msg
    printf -v msg '%s' "$*"
    printf '#/vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\n' >&2
    printf '#| FAIL: %s\n' "$msg" >&2
    printf '#\\^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n' >&2
    false
}

############
#  assert  #  Compare two values and fail with a readable report
############
#
#   assert "$actual" OP "$expected" ["what this checks"]
#   assert "$actual" ["what this checks"]       (fails when empty)
#
# OP: == != (exact strings), =~ !~ (bash extended regex; the pattern is
# NOT anchored), -eq -ne -lt -le -gt -ge (integers).
# Please don't use the bats idiom [ x = y ]: it says nothing on failure.
function assert() {
    local actual=$1
    local op=${2:-}
    local expected=${3:-}
    local what=

    case $op in
    '==' | '!=' | '=~' | '!~' | -eq | -ne | -lt | -le | -gt | -ge)
        if [[ $# -lt 3 ]]; then
            die "assert: '$op' needs a value to compare with"
            return
        fi
        what=${4:-}
        ;;
    *)
        # One-argument form: the value must be non-empty.
        what=${2:-}
        if [[ -n $actual ]]; then
            return 0
        fi
        _mg_assert_fail "${what:-value is non-empty}" "$actual" "non-empty" "(anything)"
        return
        ;;
    esac

    local ok=
    case $op in
    '==') [[ $actual == "$expected" ]] && ok=1 ;;
    '!=') [[ $actual != "$expected" ]] && ok=1 ;;
    '=~') [[ $actual =~ $expected ]] && ok=1 ;;
    '!~') [[ ! $actual =~ $expected ]] && ok=1 ;;
    *)
        if ! [[ $actual =~ ^-?[0-9]+$ ]]; then
            _mg_assert_fail "${what:-integer comparison}" "$actual" "$op" "$expected"
            return
        fi
        if ! [[ $expected =~ ^-?[0-9]+$ ]]; then
            die "assert: '$expected' is not an integer"
            return
        fi
        case $op in
        -eq) ((actual == expected)) && ok=1 ;;
        -ne) ((actual != expected)) && ok=1 ;;
        -lt) ((actual < expected)) && ok=1 ;;
        -le) ((actual <= expected)) && ok=1 ;;
        -gt) ((actual > expected)) && ok=1 ;;
        -ge) ((actual >= expected)) && ok=1 ;;
        esac
        ;;
    esac
    if [[ -n $ok ]]; then
        return 0
    fi
    _mg_assert_fail "${what:-$op comparison}" "$actual" "$op" "$expected"
}

# Print the boxed report of a failed assert and fail.
function _mg_assert_fail() {
    local what=$1 actual=$2 op=$3 expected=$4
    local -a a_lines e_lines
    mapfile -t a_lines <<<"$actual"
    mapfile -t e_lines <<<"$expected"
    {
        printf '#/vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\n'
        printf '#|     FAIL: %s\n' "$what"
        local label='#| expected:'
        local l
        case $op in
        '!=') label='#|  must not be:' ;;
        '=~') label='#| to match:' ;;
        '!~') label='#| not to match:' ;;
        -*) label="#| expected $op" ;;
        esac
        # Regexes are shown raw; strings quoted, so blanks are visible.
        local efmt='%s %q\n'
        if [[ $op == '=~' || $op == '!~' ]]; then
            efmt='%s %s\n'
        fi
        for l in "${e_lines[@]}"; do
            # shellcheck disable=SC2059
            printf "$efmt" "$label" "$l"
            label='#|         >'
        done
        label='#|   actual:'
        for l in "${a_lines[@]}"; do
            printf '%s %q\n' "$label" "$l"
            label='#|         >'
        done
        printf '#\\^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n'
    } >&2
    false
}

# END   assertions
###############################################################################
# BEGIN skips and small tools

# Microseconds since the epoch.
function now_us() {
    printf '%s\n' "${EPOCHREALTIME/./}"
}

# Live (not zombie) processes whose whole command line is exactly $1 (a
# unique argument of the test's own, so that only what it started is found).
function live_procs() {
    local pid state
    for pid in $(pgrep -f -x -- "$1"); do
        state=$(sed -n 's/^State:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null) || continue
        [[ -n $state && $state != Z* ]] && echo "$pid"
    done
    return 0
}

# mitogen-run CHAIN with a command that kills its own agent (kill -9
# $PPID): 255. What the agent left is then stopped as the agent would
# have on its parent's loss: SIGTERM first, so that the command's trap
# writes DIR/mark (DIR writable by the chain's user), then SIGKILL a
# second later, so that one ignoring SIGTERM is gone all the same.
# bash, not dash: dash reports its job killed by the SIGTERM on its
# stderr, the dead agent's pipe, and dies of SIGPIPE before its trap.
# The first part TIMES times (default 1): a race it loses only sometimes.
function check_agent_killed_leftovers() {
    local chain=$1 dir=$2 sleeper="sleep 30.$RANDOM$RANDOM" i n left
    for ((n = 0; n < ${3:-1}; n++)); do
        rm -f "$dir/mark"
        run_mg_sep 255 mitogen-run "$chain" -- bash -c \
            "trap 'echo cleaned >$dir/mark; exit 0' TERM; kill -9 \$PPID; $sleeper & wait \$!"
        for ((i = 0; i < 500; i++)); do
            [[ -s $dir/mark && -z $(live_procs "$sleeper") ]] && break
            sleep 0.02
        done
        left=$(live_procs "$sleeper")
        [[ -z $left ]] || kill -KILL $left
        assert "$(cat "$dir/mark" 2>/dev/null)" == "cleaned" "$chain: the command's TERM trap ran (run $n)"
        assert "$left" == "" "$chain: its background job went too"
    done

    run_mg_sep 255 mitogen-run "$chain" -- bash -c "trap '' TERM; kill -9 \$PPID; exec $sleeper"
    for ((i = 0; i < 500; i++)); do
        [[ -z $(live_procs "$sleeper") ]] && break
        sleep 0.02
    done
    left=$(live_procs "$sleeper")
    [[ -z $left ]] || kill -KILL $left
    assert "$left" == "" "$chain: the command ignoring SIGTERM is gone"
}

# The system's OpenSSH sftp-server, or nothing.
function openssh_server() {
    local s
    for s in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server /usr/lib/ssh/sftp-server /usr/libexec/sftp-server; do
        if [[ -x $s ]]; then
            printf '%s\n' "$s"
            return
        fi
    done
}

function is_root() {
    [[ $(id -u) -eq 0 ]]
}

#######################
#  skip_if_not_root  #  ...with an optional reason
#######################
function skip_if_not_root() {
    if ! is_root; then
        skip "${1:-needs root}"
    fi
}

#######################
#  skip_if_no_program  #  PROGRAM [REASON]
#######################
function skip_if_no_program() {
    if ! command -v "$1" >/dev/null 2>&1; then
        skip "${2:-$1 is not installed}"
    fi
}

# The first CPU this shell may run on (taskset's list, as mitogen-run
# counts its own): pinned to it, a second hop starting is a fan-out.
function first_cpu() {
    taskset -cp $$ | sed 's/.*: //; s/[,-].*//'
}

# The agent a one-hop mitogen-run pushes to a first hop booted through
# the first stage, other than sudo or doas, as the master finds it
# (docs/PROTOCOL.md 2.3.2, 2.3.4): the leaf agent where there is one and
# an exec-only agent, else the exec-only one, else the whole.
# MITOGEN_AGENT_LITE and MITOGEN_AGENT_LEAF set but empty: none.
function pushed_agent() {
    local a=${MITOGEN_AGENT:-$MG_BUILD_DIR/cmd/mitogen-agent} lite leaf
    lite=${MITOGEN_AGENT_LITE-$a-lite}
    leaf=${MITOGEN_AGENT_LEAF-$a-leaf}
    if [[ -n $lite && -f $lite && -n $leaf && -f $leaf ]]; then
        printf '%s\n' "$leaf"
    elif [[ -n $lite && -f $lite ]]; then
        printf '%s\n' "$lite"
    else
        printf '%s\n' "$a"
    fi
}


# A file size limit (ulimit -f, KiB) that lets a hop's agent in (its
# image, the plain agent before it for sudo, written to a file there) but
# not a file 1 MiB larger: the agent is 95 KB packed here, megabytes in
# a sanitizer build.
function fsize_limit_kb() {
    local a=${MITOGEN_AGENT:-$MG_BUILD_DIR/cmd/mitogen-agent} n
    n=$(stat -c %s "$a")
    [[ -f $a.raw ]] && n=$((n + $(stat -c %s "$a.raw")))
    echo $((n * 2 / 1024 + 1024))
}

#################
#  mg_commands  #  The user-facing programs, one per line
#################
#
# Every cmd/*.c with a main() except the agent: each must have --help, a man
# page and completions.
# What --dry-run shows for a local hop run in place: the plain agent
# beside a packed one (given the image at fd 3), else the agent itself.
function agent_in_place() {
    local a=${MITOGEN_AGENT:-$MG_BUILD_DIR/cmd/mitogen-agent}
    if [[ -x $a.raw ]]; then
        printf '%s --local 3\n' "$a.raw"
    else
        printf '%s --local\n' "$a"
    fi
}

function mg_commands() {
    local f name
    for f in "$MG_SRC_DIR"/cmd/*.c; do
        name=$(basename "$f" .c)
        # Helpers in libexec, run by mitogen itself, not by users.
        [[ $name == mitogen-agent || $name == mitogen-connect ]] && continue
        grep -Eq '^(int[[:space:]]+)?main[[:space:]]*\(' "$f" || continue
        printf '%s\n' "$name"
    done
}

##############
#  safename  #  A name unique to this test, for files and processes
##############
function safename() {
    printf 'mg-t%s-%s\n' "${BATS_SUITE_TEST_NUMBER:-0}" "$(tr -dc a-z0-9 </dev/urandom | head -c 8)"
}

############
#  dprint  #  Debug output on fd 3, when MG_TEST_DEBUG names the caller
############
function dprint() {
    [[ -n ${MG_TEST_DEBUG:-} ]] || return 0
    local caller=${FUNCNAME[1]}
    if [[ $MG_TEST_DEBUG == all || " $MG_TEST_DEBUG " == *" $caller "* ]]; then
        printf '# %s: %s\n' "$caller" "$*" >&3
    fi
}

# END   skips and small tools

# A command's view of its agent (PROTOCOL 2.5: not dumpable): its own
# uid, the agent's name, the owners of the agent's /proc entry and of its
# own, and whether the agent's executable, environment and descriptors
# can be read.
AGENT_CLOSED_PROBE='id -u; cat /proc/$PPID/comm
stat -c %u /proc/$PPID/status /proc/self/status
readlink /proc/$PPID/exe || echo refused
head -c 1 /proc/$PPID/environ || echo refused
ls /proc/$PPID/fd || echo refused'

# assert_agent_closed UID LABEL: $lines of a run of AGENT_CLOSED_PROBE by
# user UID, whose agent must be closed to it.
function assert_agent_closed() {
    assert "${lines[0]}" == "$1" "$2: the command runs as the user"
    assert "${lines[1]}" =~ "^mitogen" "$2: its parent is the agent"
    assert "${lines[2]}" == "0" "$2: the agent's /proc entry is root's"
    assert "${lines[3]}" == "$1" "$2: the command's own is the user's"
    assert "${lines[4]}" == "refused" "$2: the agent's executable cannot be read"
    assert "${lines[5]}" == "refused" "$2: nor its environment"
    assert "${lines[6]}" == "refused" "$2: nor its descriptors"
}
