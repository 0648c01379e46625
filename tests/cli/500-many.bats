#!/usr/bin/env bats
# -*- bats -*-
# shellcheck disable=SC2154 # $stderr, $stderr_lines: set by run_mg_sep
# shellcheck disable=SC2016 # single-quoted $ are for the remote shell
# shellcheck disable=SC2030,SC2031 # exports are per test (each @test is a subshell)
#
# mitogen-run on many targets, with local, fork and container-stub hops
# only (no root needed): target lists (-w, ^FILE, -, -x, duplicates),
# the output formats (prefixed, -N, -b, --json, --outdir, --failed), the
# failure summary and the exit status, stdin broadcast in bounded memory,
# timeouts, signals and the fan-out window.
#
# The container stubs of tests/stubs boot the agent right here, so
# docker:c01 is a cheap target with a host name of its own; MG_STUB_FAIL
# makes one fail to connect. The remote snippet $NAME_SH sets $n to the
# stub's container name, for commands that behave differently per target.

load helpers

# Remote shell code: $n = the container name the docker stub was given.
NAME_SH='n=${ORIGINAL_ARGV#* --interactive }; n=${n%% *}; '

function setup() {
    basic_setup
    export PATH=$MG_SRC_DIR/tests/stubs:$PATH
    unset MG_STUB_LOG MG_STUB_FAIL MG_STUB_FAIL_STUB
    # A unique argument for the remote sleeps of this test.
    SLEEP_ARG=300.$RANDOM$RANDOM
    MG_PID=
}

function teardown() {
    local pid
    if [[ -n $MG_PID ]]; then
        kill -KILL "$MG_PID" 2>/dev/null || true
    fi
    for pid in $(live_procs "sleep $SLEEP_ARG"); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    basic_teardown
}

# Wait up to $1 s until no live 'sleep $SLEEP_ARG' is left; print those left.
function wait_until_gone() {
    local i out
    for ((i = 0; i < $1 * MG_TIMEOUT_SCALE * 20; i++)); do
        out=$(live_procs "sleep $SLEEP_ARG")
        [[ -z $out ]] && return 0
        sleep 0.05
    done
    printf '%s\n' "$out"
}

# run_mg_big [EXPECTED_RC] PROGRAM [ARG...]: like run_mg_sep for commands
# that print megabytes: the streams stay in $MG_STDOUT_FILE and
# $MG_STDERR_FILE, and only their first and last lines are logged.
function run_mg_big() {
    _mg_expected_rc "$@"
    shift "$_mg_shift"
    local expected=$_mg_expected_rc
    MG_STDOUT_FILE=$MG_TMP/.mg-stdout
    MG_STDERR_FILE=$MG_TMP/.mg-stderr
    _mg_log_command "$@"
    status=0
    timeout -v --kill-after=5 "$(mg_secs "$MG_TIMEOUT")" "$@" \
        >"$MG_STDOUT_FILE" 2>"$MG_STDERR_FILE" 3>/dev/null || status=$?
    output=$(head -3 "$MG_STDOUT_FILE" | cut -c1-100; echo "[... $(wc -l <"$MG_STDOUT_FILE") lines]")
    stderr=$(head -3 "$MG_STDERR_FILE" | cut -c1-100; echo "[... $(wc -l <"$MG_STDERR_FILE") lines]"
             tail -3 "$MG_STDERR_FILE" | cut -c1-200)
    printf '%s\n' "$output"
    printf '[stderr] %s\n' "$stderr"
    _mg_check_status "$expected"
}

# The lines of $output, sorted (the order of targets is not fixed).
function sorted_output() {
    printf '%s\n' "$output" | LC_ALL=C sort
}

# The lines of $stderr without the final summary line.
function stderr_sorted() {
    printf '%s\n' "$stderr" | grep -v ' failed: ' | LC_ALL=C sort
}

# The summary line ("mitogen-run: N of M failed: ...") of $stderr without
# its "mitogen-run: " tag, or nothing.
function summary_line() {
    printf '%s\n' "$stderr" | sed -n 's/^mitogen-run: \([0-9]* of [0-9]* failed: \)/\1/p'
}

###############################################################################
# Names and prefixes

@test "prefixed output: NAME: line, names as the code derives them" {
    run_mg_sep mitogen-run -w 'local,local/local,fork,local/fork,docker:c01' -- 'echo out; echo err >&2'
    assert "$(sorted_output)" == "$(printf '%s\n' 'c01: out' 'fork: out' 'local+fork: out' \
        'local+local: out' 'local: out')" "one prefixed stdout line per target"
    assert "$(stderr_sorted)" == "$(printf '%s\n' 'c01: err' 'fork: err' 'local+fork: err' \
        'local+local: err' 'local: err')" "stderr prefixed too, on stderr"
    assert "$(summary_line)" == "" "no failure, no summary line"

    # A host is the name; the same host at the end of two chains makes
    # both use their whole chain, path-safe.
    run_mg_sep mitogen-run -w 'docker:web1,local/docker:web1,docker:db[1-2]' -- echo x
    assert "$(sorted_output)" == "$(printf '%s\n' 'db1: x' 'db2: x' 'docker=web1: x' 'local+docker=web1: x')" \
        "clashing hosts: whole chains ('=' for ':', '+' for '/')"

    # -w with a single target is still prefixed.
    run_mg_sep mitogen-run -w local -- echo one
    assert "$output" == "local: one" "-w with one target: prefixed"

    # A partial last line gets its newline and its prefix.
    run_mg_sep mitogen-run -w 'local,fork' -- printf 'no-newline'
    assert "$(sorted_output)" == "$(printf '%s\n' 'fork: no-newline' 'local: no-newline')" \
        "a partial last line is printed whole at the end"
}

@test "10 targets x 2000 lines of 200 chars: lines never mixed mid-line" {
    local targets='local,local/local,fork,local/fork,docker:c[01-06]'
    local names='c01 c02 c03 c04 c05 c06 fork local local+fork local+local'
    # Each line is its number, zero-padded to 200 digits; the same on
    # stderr with an 'e' in front of the number.
    local cmd='awk "BEGIN { for (i = 1; i <= 2000; i++) { printf \"%0200d\\n\", i; printf \"e%0199d\\n\", i > \"/dev/stderr\" } }"'

    run_mg_big mitogen-run -w "$targets" -- "$cmd"
    local check='
        {
            p = index($0, ": ")
            if (p == 0) { print "no prefix: " substr($0, 1, 60); bad++; next }
            name = substr($0, 1, p - 1); text = substr($0, p + 2)
            if (!(name in want)) { print "unknown name: " substr(name, 1, 60); bad++; next }
            k = ++count[name]
            line = sprintf(fmt, k)
            if (text != line) { print name ": line " k " is: " substr(text, 1, 60) "... (" length(text) " chars)"; bad++ }
        }
        END {
            for (nm in want) if (count[nm] != 2000) { print nm ": " count[nm] + 0 " lines"; bad++ }
            if (bad) exit 1
        }'
    run awk -v names="$names" -v fmt='%0200d' \
        "BEGIN { n = split(names, a, \" \"); for (i = 1; i <= n; i++) want[a[i]] = 1 } $check" \
        "$MG_STDOUT_FILE"
    assert "$status" -eq 0 "stdout: every line is NAME: and its exact content, in order: $output"
    # The summary line, if any, would break the check: there must be none.
    run awk -v names="$names" -v fmt='e%0199d' \
        "BEGIN { n = split(names, a, \" \"); for (i = 1; i <= n; i++) want[a[i]] = 1 } $check" \
        "$MG_STDERR_FILE"
    assert "$status" -eq 0 "stderr: every line is NAME: and its exact content, in order: $output"
}

@test "-N: whole lines without the prefix" {
    run_mg_sep mitogen-run -N -w 'local,local/local,fork,docker:c[01-02]' -- 'echo line-a; echo line-b; echo to-err >&2'
    assert "$(sorted_output)" == "$(printf 'line-a\n%.0s' 1 2 3 4 5; printf 'line-b\n%.0s' 1 2 3 4 5)" \
        "-N: five copies of each line, no prefix"
    assert "$(stderr_sorted)" == "$(printf 'to-err\n%.0s' 1 2 3 4 5)" "-N: stderr without prefix too"

    # Long lines from several targets at once stay whole.
    run_mg_big mitogen-run --no-prefix -w 'local,fork,docker:c[01-04]' -- \
        'awk "BEGIN { for (i = 1; i <= 3000; i++) printf \"%0300d\\n\", i }"'
    run awk 'length($0) != 300 || $0 !~ /^[0-9]+$/ { bad++ } END { print NR, bad + 0 }' "$MG_STDOUT_FILE"
    assert "$output" == "18000 0" "-N: 18000 lines, each one whole (lines, mixed)"

    # Exclusive with -b and --json.
    run_mg_sep 2 mitogen-run -N -b -w 'local,fork' -- true
    assert "$stderr" =~ "exclude each other" "-N with -b is a usage error"
}

###############################################################################
# -b gathering

@test "-b: identical output grouped, statuses apart, folded names" {
    local cmd="$NAME_SH"'case $n in c0[12]|c1[01]) echo A;; c05) echo A; exit 3;; c07) echo err-$n >&2; exit 4;; *) echo B; echo B2;; esac'
    run_mg_sep 4 mitogen-run -b -w 'docker:c[01-07],docker:c[10-11]' -- "$cmd"
    local sep=---------------
    local expected
    expected=$(printf '%s\n' \
        "$sep" 'c[01-02,10-11]' "$sep" A \
        "$sep" 'c[03-04,06]' "$sep" B B2 \
        "$sep" 'c05 (exit 3)' "$sep" A \
        "$sep" 'c07 (exit 4)' "$sep")
    assert "$output" == "$expected" \
        "groups in order of their first target: same output with another status stays apart"
    assert "$(stderr_sorted)" == "c07: err-c07" "stderr printed as it comes, prefixed"
    assert "$(summary_line)" == "2 of 9 failed: c05 (exit 3), c07 (exit 4)" "the summary"

    # Local chains without hosts: their path-safe names, folded into one.
    run_mg_sep mitogen-run --gather -w 'local,local/local,fork,local/fork' -- echo same
    assert "$output" == "$(printf '%s\n' "$sep" 'fork,local,local+fork,local+local' "$sep" same)" \
        "one group for four chains without a host"
}

@test "-b: output without its last newline gathers with the same lines ended" {
    # -b prints an unended last line ended, as clush -b and dshbak -c
    # do: two outputs printed alike are one group, as in those tools.
    # Empty output and one empty line still differ: a target that printed
    # nothing and ended well gets no group, as in clush -b (c04); one that
    # failed gets its header, which says how (c05).
    local cmd="$NAME_SH"'case $n in c01) printf abc;; c02) echo abc;; c03) echo;; c05) exit 5;; esac'
    run_mg_sep 5 mitogen-run -b -w 'docker:c[01-05]' -- "$cmd"
    local sep=---------------
    assert "$output" == "$(printf '%s\n' "$sep" 'c[01-02]' "$sep" abc "$sep" c03 "$sep" '' "$sep" 'c05 (exit 5)' "$sep")" \
        "abc and abc\\n in one group; an empty line apart; no group for no output, but for a failure"
    run_mg_sep mitogen-run -b -w 'local,fork' -- true
    assert "$output" == "" "no output anywhere: nothing on stdout, as clush -b"
    if command -v clush >/dev/null; then
        run clush -b -R exec -w 'n[1-2]' true
        assert "$output" == "" "clush -b prints no group for no output either"
    fi
}

###############################################################################
# --json

@test "--json: one object per target, parsed by python3" {
    skip_if_no_program python3
    export MG_STUB_FAIL='Error: No such container: gone' MG_STUB_FAIL_STUB=podman
    local cmd="$NAME_SH"'case $n in
        c01) printf "plain \"q\" \\\\ tab\tend\n"; echo err-c01 >&2 ;;
        c02) printf "bad \377 byte, \303\251 ok\n"; exit 3 ;;
        c03) kill -TERM $$ ;;
        *) printf "no-newline" ;;
    esac'
    run_mg_sep 255 mitogen-run --json -w 'docker:c[01-04],podman:gone' -- "$cmd"
    assert "${#lines[@]}" -eq 5 "one line per target"
    cat >"$MG_TMP/check.py" <<'EOF'
import json, sys
objs = {}
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    assert set(o) == {"target", "chain", "outcome", "rc", "signal", "duration",
                      "stdout", "stderr", "error"}, sorted(o)
    assert isinstance(o["duration"], float) and 0 <= o["duration"] < 30, o["duration"]
    objs[o["target"]] = o

def check(name, **want):
    o = objs[name]
    for k, v in want.items():
        assert o[k] == v, "%s: %s is %r, expected %r" % (name, k, o[k], v)

assert sorted(objs) == ["c01", "c02", "c03", "c04", "gone"], sorted(objs)
check("c01", chain="docker:c01", outcome="ok", rc=0, signal=None,
      stdout='plain "q" \\ tab\tend\n', stderr="err-c01\n", error=None)
check("c02", chain="docker:c02", outcome="failed", rc=3, signal=None,
      stdout="bad \u00ff byte, \u00e9 ok\n", stderr="", error=None)
check("c03", outcome="failed", rc=143, signal=15, stdout="", error=None)
check("c04", outcome="ok", rc=0, stdout="no-newline")
check("gone", chain="podman:gone", outcome="unreachable", rc=None, signal=None,
      stdout="", stderr="")
assert "No such container: gone" in objs["gone"]["error"], objs["gone"]["error"]
print("ok")
EOF
    run python3 "$MG_TMP/check.py" "$MG_STDOUT_FILE"
    assert "$output" == "ok" "the JSON objects (python3 says)"
    # The raw escape of the byte that is not UTF-8, and é copied as is.
    assert "$(grep '"target":"c02"' "$MG_STDOUT_FILE")" =~ 'bad \\u00ff byte, é ok' \
        "a byte that is not UTF-8 is \\u00XX of its value"
    assert "$(summary_line)" =~ "^3 of 5 failed: " "the summary goes to stderr"
}

###############################################################################
# --outdir and --failed

@test "--outdir: NAME.out, NAME.err and NAME.rc, exact bytes, directory 0700" {
    local dir=$MG_TMP/new/out
    local cmd="$NAME_SH"'printf "out-$n\n\377\000x"; printf "err-$n" >&2; case $n in c02) exit 5;; esac'
    run_mg_sep 5 mitogen-run --outdir "$dir" -w 'docker:c[01-02],local' -- "$cmd"
    assert "$(stat -c %a "$dir")" == "700" "the directory is created 0700"
    assert "$(stat -c %a "$MG_TMP/new")" == "700" "missing parents too"
    assert "$(cd "$dir" && command ls | LC_ALL=C sort | tr '\n' ' ')" == \
        "c01.err c01.out c01.rc c02.err c02.out c02.rc local.err local.out local.rc " \
        "three files per target"
    local t
    for t in c01 c02; do
        printf 'out-%s\n\377\000x' "$t" >"$MG_TMP/want"
        run cmp "$MG_TMP/want" "$dir/$t.out"
        assert "$status" -eq 0 "$t.out holds the exact bytes (cmp: $output)"
        assert "$(cat "$dir/$t.err")" == "err-$t" "$t.err"
    done
    assert "$(cat "$dir/c01.rc")" == "0" "c01.rc"
    assert "$(cat "$dir/c02.rc")" == "5" "c02.rc"
    assert "$(cat "$dir/local.rc")" == "0" "local.rc"
    # The terminal still gets the prefixed lines.
    assert "$(grep -c '^c0[12]: out-c0[12]$' "$MG_STDOUT_FILE")" -eq 2 "stdout is still printed"

    # An unreachable target gets its .rc (255) and empty output files.
    MG_STUB_FAIL='Error: No such container' MG_STUB_FAIL_STUB=podman \
        run_mg_sep 255 mitogen-run --outdir "$dir" -w 'podman:gone,local' -- true
    assert "$(cat "$dir/gone.rc")" == "255" "gone.rc of an unreachable target"
    assert "$(stat -c %s "$dir/gone.out")" -eq 0 "gone.out is empty"
}

@test "--failed FILE, then -w ^FILE reruns exactly the failed ones" {
    export MG_STUB_FAIL='Error: No such container' MG_STUB_FAIL_STUB=podman
    local cmd="$NAME_SH"'case $n in c02|c04) exit 1;; esac; echo ok'
    run_mg_sep 255 mitogen-run --failed "$MG_TMP/failed" -w 'docker:c[01-05],podman:gone,local' -- "$cmd"
    assert "$(LC_ALL=C sort "$MG_TMP/failed")" == "$(printf '%s\n' docker:c02 docker:c04 podman:gone)" \
        "the failed chains, one per line"

    unset MG_STUB_FAIL
    run_mg_sep mitogen-run -w "^$MG_TMP/failed" -- echo again
    assert "$(sorted_output)" == "$(printf '%s\n' 'c02: again' 'c04: again' 'gone: again')" \
        "the rerun runs exactly those"
    # The positional TARGET reads ^FILE and - as -w does.
    run_mg_sep mitogen-run "^$MG_TMP/failed" echo again
    assert "$(sorted_output)" == "$(printf '%s\n' 'c02: again' 'c04: again' 'gone: again')" \
        "a positional ^FILE"
    run_mg_sep bash -c 'mitogen-run - echo again <"$1"' x "$MG_TMP/failed"
    assert "$(sorted_output)" == "$(printf '%s\n' 'c02: again' 'c04: again' 'gone: again')" \
        "a positional -: the targets from stdin"

    # Nothing failed: the file is written, empty.
    run_mg_sep mitogen-run --failed "$MG_TMP/failed" -w "^$MG_TMP/failed" -- true
    assert "$(stat -c %s "$MG_TMP/failed")" -eq 0 "nothing failed: an empty file"
}

###############################################################################
# Exit status and summary

@test "exit status: 0, the highest remote status, 255 when unreachable; the summary" {
    run_mg_sep 0 mitogen-run -w 'local,fork,docker:c[1-3]' -- true
    assert "$stderr" == "" "all ok: exit 0, nothing on stderr"

    # c1..c4 exit with their number, local with 0.
    local cmd="$NAME_SH"'exit ${n#c}'
    run_mg_sep 4 mitogen-run -w 'docker:c[1-4]' -- "$cmd"
    assert "$(summary_line)" == "4 of 4 failed: c1 (exit 1), c2 (exit 2), c3 (exit 3), c4 (exit 4)" \
        "one item per status"
    assert "${stderr_lines[-1]}" == "mitogen-run: $(summary_line)" "the summary is the last line of stderr"

    cmd="$NAME_SH"'case $n in c1) exit 3;; c2) kill -TERM $$;; esac'
    run_mg_sep 143 mitogen-run -w 'docker:c[1-3],local' -- "$cmd"
    assert "$(summary_line)" == "2 of 4 failed: c1 (exit 3), c2 (signal 15)" "signal 15 beats exit 3"

    cmd="$NAME_SH"'case $n in c[12]) exit 7;; esac'
    run_mg_sep 7 mitogen-run -w 'docker:c[1-4]' -- "$cmd"
    assert "$(summary_line)" == "2 of 4 failed: c[1-2] (exit 7)" "equal reasons folded together"

    # Unreachable wins over any status, even a higher one.
    export MG_STUB_FAIL='Error: No such container' MG_STUB_FAIL_STUB=podman
    run_mg_sep 255 mitogen-run -w 'local,podman:gone,podman:gone2,fork' -- 'exit 3'
    assert "$(summary_line)" =~ "^4 of 4 failed: " "every target counted"
    assert "$(summary_line)" =~ "gone,gone2 \\(" "both unreachable ones named, together"
    assert "$(summary_line)" =~ "fork,local \\(exit 3\\)" "the ones that ran"
    run_mg_sep 255 mitogen-run -w 'local,podman:gone' -- 'exit 254'
    run_mg_sep 255 mitogen-run -w 'local,fork' -- 'exit 255'
    assert "$(summary_line)" == "2 of 2 failed: fork,local (exit 255)" "a remote 255 is 255 too"

    # The command not found: 127.
    run_mg_sep 127 mitogen-run -w 'local,fork' -- no-such-command-$RANDOM x
}

@test "an unreachable target: its hop's own message reaches stderr" {
    # DESIGN §5: setup failures carry the last lines the hop printed. With
    # one target mitogen-run prints them; with many, the summary keeps only
    # the first line of the error ("...; it printed:") and nothing else
    # shows the stub's "Error: No such container".
    export MG_STUB_FAIL='Error: No such container: gone' MG_STUB_FAIL_STUB=podman
    run_mg_sep 255 mitogen-run podman:gone -- true
    assert "$stderr" =~ "No such container: gone" "one target: the hop's message is shown"

    local mode
    for mode in '' -N -b; do
        run_mg_sep 255 mitogen-run ${mode:+"$mode"} -w 'local,podman:gone' -- true
        assert "$stderr" =~ "No such container: gone" \
            "many targets ${mode:-(prefixed)}: the hop's message is shown"
        assert "$(summary_line)" !~ "it printed:\\)" \
            "many targets ${mode:-(prefixed)}: the summary's reason does not end on 'it printed:'"
    done
}

###############################################################################
# Target lists

@test "-w ^FILE: one expression per line, blank lines and comments skipped" {
    printf '%s\n' '# web servers' 'docker:c[01-02]   # rack 4' '' '   ' '  # indented comment' \
        '  local , fork  ' $'local/local\t#\r' 'docker:c#9' >"$MG_TMP/targets"
    run_mg_sep mitogen-run -w "^$MG_TMP/targets" -- echo hi
    assert "$(sorted_output)" == "$(printf '%s\n' 'c#9: hi' 'c01: hi' 'c02: hi' 'fork: hi' 'local+local: hi' 'local: hi')" \
        "host lists, commas, surrounding blanks and comments after a blank in a file"

    # Repeatable, and mixed with expressions.
    printf 'docker:c03\n' >"$MG_TMP/more"
    run_mg_sep mitogen-run -w "^$MG_TMP/more" -w local -- echo hi
    assert "$(sorted_output)" == "$(printf '%s\n' 'c03: hi' 'local: hi')" "^FILE and an expression"

    # A bad line names the file and the line.
    printf '%s\n' '# ok' 'local' 'local?nosuchoption=1' >"$MG_TMP/bad"
    run_mg_sep 2 mitogen-run -w "^$MG_TMP/bad" -- true
    assert "$stderr" =~ "$MG_TMP/bad: line 3: " "the file and line of the bad expression"
    run_mg_sep 2 mitogen-run -w "^$MG_TMP/missing" -- true
    assert "$stderr" =~ "$MG_TMP/missing" "a missing file is named"
}

@test "-w -: targets from stdin, and the command gets /dev/null" {
    run_mg_sep mitogen-run -w - -- 'wc -c' <<<$'# from stdin\ndocker:c01\n\nlocal,fork'
    assert "$(sorted_output)" == "$(printf '%s\n' 'c01: 0' 'fork: 0' 'local: 0')" \
        "targets read from stdin; the command sees an empty stdin"
}

@test "-x by chain, by expression and by bare host name" {
    run_mg_sep mitogen-run -w 'docker:c[01-06],local,local/local' \
        -x docker:c02 -x c04 -x local/local -x 'docker:c0[5-6]' -- echo hi
    assert "$(sorted_output)" == "$(printf '%s\n' 'c01: hi' 'c03: hi' 'local: hi')" \
        "excluded: a chain, a bare host, a chain, a host list"

    # A bare name removes every chain that ends on that host.
    run_mg_sep mitogen-run -w 'docker:web1,local/docker:web1,docker:web2' -x web1 -- echo hi
    assert "$output" == "web2: hi" "-x web1: both chains ending on web1 are gone"

    # -x ^FILE of chains.
    printf '%s\n' '# skip these' 'docker:c01' '' 'docker:c03' >"$MG_TMP/ex"
    run_mg_sep mitogen-run -w 'docker:c[01-04]' -x "^$MG_TMP/ex" -- echo hi
    assert "$(sorted_output)" == "$(printf '%s\n' 'c02: hi' 'c04: hi')" "-x ^FILE of chains"

    run_mg_sep 2 mitogen-run -w 'local,fork' -x local -x fork -- true
    assert "$stderr" =~ "no target left" "everything excluded is a usage error"
}

@test "-x with bare host names in a list or a file" {
    # The man page: -x takes "a chain, an expression, ^FILE, or a bare
    # host name, which removes every target ending on that host". A bare
    # name works alone (-x c02, tested above); in a ^FILE of host names,
    # a comma list or a host list it should do the same.
    printf '%s\n' '# hosts in maintenance' 'c02' >"$MG_TMP/ex"
    local -a forms=("^$MG_TMP/ex" 'c02,c03' 'c0[2-3]')
    local form got=
    for form in "${forms[@]}"; do
        run_mg_sep mitogen-run -w 'docker:c0[1-4]' -x "$form" -- echo hi
        got+="-x $form: $(sorted_output | cut -d: -f1 | tr '\n' ' ')"$'\n'
    done
    assert "$got" == "-x ^$MG_TMP/ex: c01 c03 c04 "$'\n'"-x c02,c03: c01 c04 "$'\n'"-x c0[2-3]: c01 c04 "$'\n' \
        "the targets left by each form of -x"
}

@test "duplicates run once" {
    run_mg_sep mitogen-run -w local -w local -w 'local,local' -w 'docker:c01,docker:c[01-02],docker:c01' -- \
        'echo run >>'"$MG_TMP/count"'; echo hi'
    assert "$(sorted_output)" == "$(printf '%s\n' 'c01: hi' 'c02: hi' 'local: hi')" "one line per distinct target"
    assert "$(wc -l <"$MG_TMP/count")" -eq 3 "three runs in all"
}

###############################################################################
# stdin

@test "stdin is broadcast to every target" {
    run_mg_sep mitogen-run -w 'local,local/local,fork' -- cat < <(printf 'data')
    assert "$(sorted_output)" == "$(printf '%s\n' 'fork: data' 'local+local: data' 'local: data')" \
        "each target reads the whole stdin"

    head -c 3000000 /dev/urandom >"$MG_TMP/in"
    local sum
    sum=$(md5sum <"$MG_TMP/in")
    run_mg_sep mitogen-run -w 'local,fork,docker:c[1-3]' -- md5sum <"$MG_TMP/in"
    assert "$(sorted_output)" == "$(printf "%s: $sum\n" c1 c2 c3 fork local)" "3 MB of random bytes, intact, to each"

    # -n: /dev/null.
    run_mg_sep mitogen-run -n -w 'local,fork' -- 'wc -c' <"$MG_TMP/in"
    assert "$(sorted_output)" == "$(printf '%s\n' 'fork: 0' 'local: 0')" "-n: nothing to read"
}

@test "200 MiB of stdin to 4 targets in bounded memory (peak RSS < 64 MiB)" {
    local n=209715200 rss=
    local -a mg_cmd=(mitogen-run -w 'local,local/local,fork,docker:c1' -- wc -c)
    _mg_log_command "${mg_cmd[@]}"
    if [[ -x /usr/bin/time ]]; then
        # GNU time: the peak RSS of mitogen-run itself (KiB).
        status=0
        head -c "$n" /dev/zero | timeout "$(mg_secs "$MG_TIMEOUT")" /usr/bin/time -o "$MG_TMP/rss" -f %M \
            "${mg_cmd[@]}" >"$MG_TMP/out" 2>"$MG_TMP/err" 3>&- || status=$?
        rss=$(tail -1 "$MG_TMP/rss")
    else
        # No GNU time (apt-get install time): sample VmHWM while it runs.
        status=0
        head -c "$n" /dev/zero | "${mg_cmd[@]}" >"$MG_TMP/out" 2>"$MG_TMP/err" 3>&- &
        local pid=$! hwm i
        rss=0
        for ((i = 0; i < MG_TIMEOUT * MG_TIMEOUT_SCALE * 100; i++)); do
            hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null) || break
            [[ -n $hwm ]] || break
            ((hwm > rss)) && rss=$hwm
            sleep 0.01
        done
        wait "$pid" || status=$?
    fi
    cat "$MG_TMP/out" "$MG_TMP/err"
    echo "[ peak RSS of mitogen-run: $rss KiB ]"
    assert "$status" -eq 0 "mitogen-run exits 0"
    assert "$(LC_ALL=C sort "$MG_TMP/out")" == "$(printf "%s: $n\n" c1 fork local+local local)" \
        "each target counts all the bytes"
    assert "$rss" -gt 0 "the peak RSS was measured"
    # AddressSanitizer's shadow memory and quarantine inflate RSS: the
    # bound is for real builds.
    if ! mg_sanitized; then
        assert "$rss" -lt $((64 * 1024)) "peak RSS of mitogen-run in KiB"
    fi
}

###############################################################################
# Timeouts, signals, dry run, fan-out

@test "-u on several targets: each times out with 124" {
    local t0=$EPOCHREALTIME
    run_mg_sep 124 mitogen-run -u 1 -w 'local,fork,local/local,docker:c1' -- "sleep $SLEEP_ARG"
    local ms=$(((${EPOCHREALTIME/./} - ${t0/./}) / 1000))
    assert "$ms" -lt 6000 "all stopped after about 1 s (took $ms ms)"
    assert "$(summary_line)" =~ "^4 of 4 failed: c1,fork,local,local\\+local \\(timed out" \
        "every target timed out, in one group"
    assert "$(wait_until_gone 5)" == "" "no remote sleep left"

    # A quick target is not touched by the timeout of the others.
    local cmd="$NAME_SH"'case $n in c1) echo quick;; *) exec sleep '"$SLEEP_ARG"';; esac'
    run_mg_sep 124 mitogen-run -u 1 -w 'docker:c[1-2]' -- "$cmd"
    assert "$output" == "c1: quick" "the quick one printed"
    assert "$(summary_line)" =~ "^1 of 2 failed: c2 \\(timed out" "only c2 timed out"
}

@test "SIGINT stops the remote commands of every target" {
    local i
    printf '\n%s %s &\n' "$_MG_PROMPT" "mitogen-run -w ... -- sleep $SLEEP_ARG"
    # bash makes background jobs ignore SIGINT: restore it.
    env --default-signal=INT,TERM mitogen-run -w 'local,local/local,fork,local/fork,docker:c[1-3]' \
        -- sleep "$SLEEP_ARG" >"$MG_TMP/out" 2>"$MG_TMP/err" 3>&- &
    MG_PID=$!
    for ((i = 0; i < 10 * MG_TIMEOUT_SCALE * 20; i++)); do
        [[ $(live_procs "sleep $SLEEP_ARG" | wc -l) -ge 7 ]] && break
        sleep 0.05
    done
    assert "$(live_procs "sleep $SLEEP_ARG" | wc -l)" -eq 7 "seven remote sleeps run"
    kill -INT "$MG_PID"
    for ((i = 0; i < 10 * MG_TIMEOUT_SCALE * 20; i++)); do
        kill -0 "$MG_PID" 2>/dev/null || break
        sleep 0.05
    done
    status=0
    wait "$MG_PID" || status=$?
    MG_PID=
    cat "$MG_TMP/out" "$MG_TMP/err"
    assert "$status" -eq 130 "mitogen-run exits 128+SIGINT"
    assert "$(wait_until_gone 5)" == "" "no remote sleep left"
    assert "$(grep -E ' failed: ' "$MG_TMP/err")" =~ "^mitogen-run: 7 of 7 failed: .*\\(signal 2\\)" \
        "the summary says they were interrupted"
}

@test "--dry-run prints the hops of every target" {
    run_mg_sep mitogen-run --dry-run -w 'local,local/local,docker:c[1-2]' -- true
    assert "$stderr" == "" "nothing on stderr"
    assert "${#lines[@]}" -eq 5 "1 + 2 + 1 + 1 hops"
    local agent
    agent=$(agent_in_place)
    assert "${lines[0]}" == "local: $agent" "local"
    assert "${lines[1]}" == "local: $agent" "hop 1 of local/local"
    assert "${lines[2]}" == "local/local: $agent" "hop 2 of local/local"
    assert "${lines[3]}" =~ "^docker:c1: docker exec --interactive c1 /bin/sh -c " "docker:c1"
    assert "${lines[4]}" =~ "^docker:c2: docker exec --interactive c2 /bin/sh -c " "docker:c2"
    run_mg_sep mitogen-run --dry-run -w 'docker:c[1-2]' -- "touch $MG_TMP/ran"
    if [[ -e $MG_TMP/ran ]]; then
        die "--dry-run ran the command"
    fi
}

@test "-f 1 still runs every target, each hop from its own parent" {
    # Each command prints its container name and the comm of the process
    # that started its last hop: mitogen-run for first hops, the agent of
    # 'local' (mitogen:N) for the docker hops behind it. A packed agent
    # runs as the child of its first stage's shell (lib/hop/boot.c,
    # first_stage_guarded): past that shell.
    local cmd="$NAME_SH"'pp=$(sed -n "s/^PPid:[[:space:]]*//p" /proc/$PPID/status)
[ "$(cat /proc/$pp/comm)" != sh ] || pp=$(sed -n "s/^PPid:[[:space:]]*//p" /proc/$pp/status)
echo "$n $(cat /proc/$pp/comm)"; case $n in c3) exit 3;; esac'
    local t expected=
    for t in c1 c2 c3 c4; do expected+="$t: $t mitogen-run"$'\n'; done
    for t in d1 d2 d3 d4; do expected+="$t: $t mitogen:N"$'\n'; done
    # (a hang is a failure: no need to wait the full default)
    MG_TIMEOUT=10 run_mg_sep 3 mitogen-run -f 1 -w 'docker:c[1-4],local/docker:d[1-4]' -- "$cmd"
    assert "$(sorted_output | sed 's/mitogen:[0-9]*$/mitogen:N/')" == "${expected%$'\n'}" \
        "each of the 8 targets ran once; d1-d4 were started by the agent of 'local'"
    assert "$(summary_line)" == "1 of 8 failed: c3 (exit 3)" "the summary"

    # The same without stubs: a first hop that takes the only place while
    # three chains wait to open 'local', then go on below it.
    MG_TIMEOUT=10 run_mg_sep mitogen-run -f 1 -w 'fork,local/local,local/fork,local/local/local' -- echo hi
    assert "$(sorted_output)" == "$(printf '%s\n' 'fork: hi' 'local+fork: hi' 'local+local+local: hi' 'local+local: hi')" \
        "-f 1: four targets"

    # A window of 2 under a gateway, deeper.
    MG_TIMEOUT=10 run_mg_sep mitogen-run -f 2 -w 'local/local/docker:e[1-5]' -- "$cmd"
    assert "$(sorted_output | sed 's/mitogen:[0-9]*$/mitogen:N/')" == \
        "$(for t in e1 e2 e3 e4 e5; do echo "$t: $t mitogen:N"; done)" "-f 2: five targets behind two hops"

    run_mg_sep 2 mitogen-run -f 0 -w 'local,fork' -- true
    assert "$stderr" =~ "fan-out" "-f 0 is a usage error"
}

# vim: filetype=sh

# N targets whose commands all run at once: each marks itself in $1 and
# waits (30 s at most) for the N marks before printing its soft limit on
# open files. Chains: PREFIX with connect_timeout=11.. to tell them apart.
function open_file_targets() {
    local prefix=$1 n=$2 i list=
    for ((i = 11; i < 11 + n; i++)); do list+="${prefix}connect_timeout=$i,"; done
    printf '%s' "${list%,}"
}

@test "past the soft limit on open files: every target runs, its command with the user's limit" {
    # About four descriptors a connected hop: 80 at once need ~330, past a
    # soft limit of 128; the hard one lets mitogen-run (and the agent of
    # a gateway) raise it, as clush does, and give the commands 128 back.
    [[ $(ulimit -Hn) == unlimited || $(ulimit -Hn) -ge 1024 ]] || skip "hard limit on open files below 1024"
    local marks=$MG_TMP/marks n=80 chains
    mkdir "$marks"
    # shellcheck disable=SC2016
    local cmd='touch "$0/$$"; i=0; while [ "$(ls "$0" | wc -l)" -lt '"$n"' ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; ulimit -Sn'
    for chains in "$(open_file_targets 'local?' $n)" "$(open_file_targets 'local/local?' $n)"; do
        rm -f "$marks"/*
        MG_TIMEOUT=120 run_mg_sep sh -c 'ulimit -Sn 128 && exec "$@"' sh \
            mitogen-run -w "$chains" -- sh -c "$cmd" "$marks"
        assert "$(sed 's/^[^:]*: //' <<<"$output" | sort | uniq -c | sed 's/^ *//')" == "$n 128" \
            "$n targets at once, each command with a soft limit of 128 (${chains%%\?*})"
        assert "$stderr" == "" "no error"
    done
}

@test "past the hard limit on open files: the targets that could not start say why" {
    local n=80 chains
    chains=$(open_file_targets 'local?' $n)
    MG_TIMEOUT=120 run_mg_sep 255 sh -c 'ulimit -n 128 && exec "$@"' sh \
        mitogen-run -w "$chains" -- sh -c 'sleep 5'
    assert "$(summary_line)" =~ "of $n failed: .*(Too many open files|No file descriptors available)" \
        "the summary names the reason"
}
